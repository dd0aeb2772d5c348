"""dbbench: SQL episodes with function calling, on embedded SQLite or a MySQL/MariaDB server."""

from pathlib import Path

from pytest_amb.option_spec import OptionSpec
from pytest_amb.tasks import TaskFamily
from taskcases.dbbench import reference, task

FAMILY = TaskFamily(
    name="dbbench",
    root=Path(__file__).parent,
    bundled="data/sample*.jsonl",
    original={"dbbench-dev": "dbbench/dev.jsonl", "dbbench-std": "dbbench/standard.jsonl"},
    load=task.load,
    index=task.index,
    build=task.build,
    options=(
        OptionSpec(
            "db_url",
            "dbbench SQL server, e.g. mysql://user:password@host:3306 (MySQL or MariaDB); empty = embedded SQLite",
            metavar="URL",
            parse=task.parse_db_url,
            secret=True,
        ),
    ),
    reference=reference.POLICIES,
    order=2,
    description="SQL questions and changes answered with function calls against a real database",
)
