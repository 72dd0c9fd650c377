"""Pure media logic for previews: probe parsing, ladder planning, ffmpeg argument building
(`commands`, one module per job), playlist rewriting. Nothing here touches S3 or the database;
`runner` is the one module that starts processes."""
