-- The keys stay as the new fold made them: an earlier release still finds every account by its exact name.
SELECT 1;
