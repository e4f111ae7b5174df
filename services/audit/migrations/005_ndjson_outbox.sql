-- The NDJSON copy is written from PostgreSQL's own durable position. A stored process record
-- gets an outbox row in the same transaction; a writer appends the lines of its outbox to its
-- file, fdatasyncs, and then, in one transaction, records the file's new length and deletes
-- those rows. Before each append the file is cut back to the recorded length, so a line left
-- by a failed or interrupted append (a full disk, a kill) is neither kept torn nor duplicated.
CREATE TABLE ndjson_outbox (
  request_id  bigint PRIMARY KEY REFERENCES requests (id),
  writer      text NOT NULL             -- the consumer whose file gets the line
);
CREATE INDEX ndjson_outbox_writer_idx ON ndjson_outbox (writer, request_id);
CREATE TABLE ndjson_files (
  writer  text PRIMARY KEY,
  path    text NOT NULL,
  size    bigint NOT NULL CHECK (size >= 0)  -- the file's length after the last committed append
);
