"""Operator code, beside the library rather than inside it: the `dailies` command line
(cli.py), the local stack (`dailies up` in up.py, `dailies demo` in demo.py and
demo_client.py, sample masters in samples.py), the environment it gives its processes
(environment.py), the processes it runs (processes.py), what it needs first
(prerequisites.py), the nginx edge runner (edge.py; its template and player live in the
top-level edge/ folder), `dailies bootstrap` (bootstrap.py, deploy.py) and its errors
(errors.py).

Import rule: `ops` may import `dailies` and, lazily inside CLI commands, `flows`. The library
`dailies/` never imports `ops`, `flows`, `tasks` or `api`; `flows`, `tasks` and `api` never
import `ops`.
"""

from pathlib import Path

# The checkout: edge/, migrations/, deployments/, work_pools/, scripts/ and prefect.yaml.
PROJECT_DIR = Path(__file__).resolve().parents[1]
