-- A cut-off cannot be taken back: what it ended stays ended.
SELECT 1;
