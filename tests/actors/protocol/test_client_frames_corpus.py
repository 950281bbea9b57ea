"""The client-frame fuzz target's committed seeds, replayed on every test run (no atheris needed)."""

from tests.fuzz import fuzz_client_frames


def test_every_seed_passes_the_fuzz_targets_checks():
    assert fuzz_client_frames.run_corpus() >= 20


def test_the_reference_and_the_parser_disagree_loudly():
    """The check must be able to fail: a parser that took NaN would be caught by the reference."""
    assert fuzz_client_frames.reference('{"type":"PING","id":NaN}', 64) == fuzz_client_frames.REFUSED
    assert fuzz_client_frames.reference('{"type":"PING","id":true}', 64) == fuzz_client_frames.REFUSED
    assert fuzz_client_frames.reference('{"type":"PING","data":null,"id":2}', 64) == ("PING", {}, 2)
    assert not fuzz_client_frames._same(1, 1.0) and not fuzz_client_frames._same(True, 1)
