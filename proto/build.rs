//! Compiles the `.proto` files with protox (pure Rust), so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "ferry/agent/v1/agent.proto",
        "ferry/operator/v1/operator.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        // A command carrying link steps is much larger than the other control messages.
        .boxed(".ferry.agent.v1.Command.kind.run_link_steps")
        .compile_fds(descriptors)?;
    Ok(())
}
