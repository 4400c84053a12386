-- The release calendar's embargo scope (docs/read-api.md, "Release calendar"): a reader with it also sees the
-- periods whose release time has not come (within its scope's disclosure). Off by default.
ALTER TABLE readers.readers ADD COLUMN embargo boolean NOT NULL DEFAULT false;
