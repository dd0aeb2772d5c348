"""The loader, environment and scoring read and reproduce the original os_interaction dev set
(../shared/amb-data/os_interaction: data/dev.json with scripts/dev/): the oracle's gold solutions must score
1.0 in real containers, except where the original's own checker cannot parse its gold output."""

from collections import Counter

from pytest_amb.registry import resolve
from taskcases.os_interaction import images
from taskcases.os_interaction.loader import load_samples
from taskcases.os_interaction.task import OsTask
from tests.support.oracle import oracle_failures

OFFLINE_BASE = "localhost/amb-base:bookworm"
# dev.json[8] asks for `du -sh /home`; the original's size-match.py parses sizes with int(), so a gold such as
# "8.0K" (GNU du prints one decimal below 10 units) fails the checker itself, whatever the answer.
SIZE_MATCH_CANNOT_PARSE = "8"


def test_dev_set_shape(amb_original_data):
    samples = load_samples(resolve("os-dev", amb_original_data).files)
    assert len(samples) == 26
    evaluations = Counter(s.evaluation for s in samples)
    assert evaluations == {"integer-match": 17, "match": 5, "check": 2, "string-match": 1, "size-match": 1}
    assert {s.image for s in samples} == {"default"}
    assert samples[10].init == ()  # its 'create' is a list: the default image without init, as the original
    assert samples[25].init[0].origin == "init/stock-log.sh"
    assert sum(1 for s in samples if s.start is not None) == 4  # background writers started in the shell


def test_the_oracle_solves_the_dev_set_in_real_containers(amb_original_data, amb_container_engine):
    engine = amb_container_engine
    base = images.resolve_base_image(None) or (OFFLINE_BASE if engine.has_image(OFFLINE_BASE) else None)
    samples = load_samples(resolve("os-dev", amb_original_data).files)
    task = OsTask("os-dev", samples, engine, base)
    failures = oracle_failures(task, "os-dev", [s.sample_id for s in samples])
    assert set(failures) <= {SIZE_MATCH_CANNOT_PARSE}, failures
    if failures:
        assert "invalid literal for int()" in failures[SIZE_MATCH_CANNOT_PARSE]
