-- 0005_admin: enrollment codes managed by people.
--
-- Who created each enrollment code: the subject of the token or session
-- that issued it, or "cli" for the operator holding the data directory.
-- Before this migration only the CLI could create codes.
ALTER TABLE enroll_codes ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
UPDATE enroll_codes SET created_by = 'cli';

-- The county's list of codes, newest first.
CREATE INDEX enroll_codes_created ON enroll_codes (created);
