-- Rules of trigger oee_below: the target OEE in percent, and the shift
-- calendar ("06:00,14:00,22:00"; empty: that default) whose shifts are
-- judged.
ALTER TABLE notify_rules ADD COLUMN target INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notify_rules ADD COLUMN shifts TEXT NOT NULL DEFAULT '';
