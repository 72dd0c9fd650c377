"""Every boto3 call, one module per bucket: `staging` (uploads), `masters` (locked copies,
retention), `previews` (preview files; the master a build reads), and `objects` for what
any bucket answers (HEAD, streaming GET, tags). Callers decide; these modules only talk."""
