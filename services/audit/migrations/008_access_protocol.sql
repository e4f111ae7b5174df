-- How each request came to the gateway: h1, h2, grpc (a gRPC call over HTTP/2), ws (an upgrade
-- answered 101). Nullable and without a default: the records stored before it keep no value,
-- and so keep their hashes (the chain's canonical text leaves nulls out).
ALTER TABLE access_events ADD COLUMN protocol text;
