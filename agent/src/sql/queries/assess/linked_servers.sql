-- Linked servers and their OLE DB providers.
SELECT name, provider, product FROM sys.servers WHERE is_linked = 1;
