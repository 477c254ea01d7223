//! PLACEHOLDER: loading RDB files and DUMP payloads into the keyspace (written next).
