"""commarchive: sealed archive of customer e-mails and calls."""
