"""Operator code: the `dailies` command line (cli.py), the local stack (`dailies up` in
up.py, `dailies demo` in demo.py and demo_client.py, sample masters in samples.py), the
processes it runs (processes.py), what it needs first (prerequisites.py), the nginx edge
runner (edge.py; its template and player live in the top-level edge/ folder), and
`dailies bootstrap` (bootstrap.py, deploy.py).

Import rule: `dailies.stack` is the only part of the `dailies` package that may import
`flows`, and only lazily, inside CLI commands. The plumbing in `dailies/` never imports
`flows`, `tasks`, `api` or `dailies.stack`; `flows`, `tasks` and `api` never import
`dailies.stack`.
"""

from pathlib import Path

# The checkout: edge/, migrations/, deployments/, work_pools/, scripts/ and prefect.yaml.
PROJECT_DIR = Path(__file__).resolve().parents[2]
