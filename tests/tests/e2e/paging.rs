//! List RPCs come in pages: a full page carries a token for the next, the last page
//! none, a token the API did not give is refused naming the field; the CLI walks every
//! page.

use ferry_proto::operator::v1::ListAuditRequest;

use super::*;

#[tokio::test]
async fn hosts_and_the_audit_log_come_in_pages_the_cli_walks() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    for name in ["page-c", "page-a", "page-b"] {
        enroll_ok(&plane, dir.path(), name).await;
    }
    let mut client = ferry_control::cli::connect(&plane.url(), &plane.credentials())
        .await
        .unwrap();
    let list = |page_token: &str| ListHostsRequest {
        page_token: page_token.to_string(),
        page_size: 2,
    };
    let first = client.list_hosts(list("")).await.unwrap().into_inner();
    let second = client
        .list_hosts(list(&first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    let names = |hosts: &[ferry_proto::operator::v1::Host]| {
        hosts.iter().map(|h| h.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&first.hosts), ["page-a", "page-b"]);
    assert_eq!(names(&second.hosts), ["page-c"]);
    assert_eq!(second.next_page_token, "", "the last page has no next");

    let refused = client.list_hosts(list("not-a-token")).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("page_token"), "{refused:?}");

    let hosts = plane.ferry_json(&["hosts"]).await;
    assert_eq!(hosts.as_array().unwrap().len(), 3, "{hosts}");

    // Audit: pages of two, newest first, each older than the one before.
    let audit = |page_token: String| ListAuditRequest {
        target: String::new(),
        limit: 2,
        page_token,
    };
    let newest = client
        .list_audit(audit(String::new()))
        .await
        .unwrap()
        .into_inner();
    let older = client
        .list_audit(audit(newest.next_page_token.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((newest.events.len(), older.events.len()), (2, 2));
    assert!(newest.events[1].at_unix_ms >= older.events[0].at_unix_ms);
    assert_ne!(newest.events, older.events);
    let cli = plane.ferry_json(&["audit", "--limit", "5"]).await;
    assert_eq!(cli.as_array().unwrap().len(), 5, "{cli}");
    plane.stop().await;
}
