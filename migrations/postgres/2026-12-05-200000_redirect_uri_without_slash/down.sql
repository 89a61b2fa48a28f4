-- The added forms stay: apps may use them by now.
SELECT 1;
