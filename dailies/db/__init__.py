"""The database: `models` (the schema; changes go through migrations/), and one module per
table that owns every read and write of it: `masters` (masters, assets, promotion attempts),
`previews`, `api_keys`, `audits`. SQL lives nowhere else."""
