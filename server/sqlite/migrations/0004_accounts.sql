-- 0004_accounts: people who log in to the server's web pages (county staff,
-- township supervisors, observers) and their sessions.
--
-- Passwords are kept only as argon2id hashes in PHC form; sessions only by
-- the SHA-256 of their token. Times are Unix nanoseconds; NULL is "never".

CREATE TABLE accounts (
	username      TEXT    PRIMARY KEY,
	name          TEXT    NOT NULL,
	role          TEXT    NOT NULL,
	scope         TEXT    NOT NULL,
	password_hash TEXT    NOT NULL,
	created       INTEGER NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	-- failures counts failed logins in a row (attempts are counted before
	-- the password is checked, and cleared when it was right);
	-- locked_until is set when they reach the limit.
	failures      INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER,
	last_login    INTEGER
) STRICT;

CREATE TABLE sessions (
	hash      BLOB    PRIMARY KEY,
	username  TEXT    NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
	created   INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	expires   INTEGER NOT NULL
) STRICT;
-- Ending an account's sessions, and forgetting expired and idle ones.
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE INDEX sessions_last_seen ON sessions (last_seen);
