"""The frame parser's fuzz target without atheris: its committed seeds, its reference, and seeded mutations.

``scripts/fuzz frames`` runs the same ``check`` coverage-guided for a bounded time in CI; here every
seed is replayed cut four ways, the reference is held to a few answers known by hand (so that parser
and reference cannot agree on a mistake unseen), and a fixed-seed stream of mutated seeds runs.
"""

from __future__ import annotations

import random

import pytest

from tests.fuzz import fuzz_frames
from tests.fuzz.fuzz_frames import CORPUS, check, may_start_utf8, reference

MASK = b"\x00\x00\x00\x00"  # a zero mask: the payload reads as itself


def test_every_committed_seed_agrees_with_the_reference():
    assert fuzz_frames.run_corpus() >= 30


@pytest.mark.parametrize("stream, expected", [
    (b"\x81\x82" + MASK + b"hi", ([(1, "hi", 1)], None, False)),
    (b"\x01\x81" + MASK + b"h" + b"\x89\x80" + MASK + b"\x80\x81" + MASK + b"i",
     ([(9, b"", 2), (1, "hi", 3)], None, False)),
    (b"\x81\x02hi", ([], 1002, False)),                                    # not masked
    (b"\x88\x81" + MASK + b"\x03", ([], 1002, False)),                     # a one-byte close payload
    (b"\x88\x82" + MASK + b"\x03\xed", ([], 1002, False)),                 # close code 1005
    (b"\x88\x84" + MASK + b"\x03\xe8\xed\xa0", ([], 1007, False)),         # a reason that is not UTF-8
    (b"\x01\x81" + MASK + b"\xed" + b"\x00\x81" + MASK + b"\xa0", ([], 1007, False)),  # a surrogate begun
    (b"\x01\x81" + MASK + b"\xed", ([], None, True)),                      # ED may still become U+D000..
    (b"\x81\x85" + MASK + b"he", ([], None, True)),                        # the stream ends inside a frame
])
def test_the_reference_gives_the_answers_worked_out_by_hand(stream, expected):
    assert reference(stream, 1023, 0) == expected


def test_the_utf8_prefix_rule():
    assert may_start_utf8(b"") and may_start_utf8("κό".encode()) and may_start_utf8(b"\xe2\x98")
    assert may_start_utf8(b"\xed\x9f") and may_start_utf8(b"\xf4\x8f")
    assert not may_start_utf8(b"\xed\xa0") and not may_start_utf8(b"\xf4\x90") and not may_start_utf8(b"\xc0")
    assert not may_start_utf8(b"\xe2\x98\x83\x80")


def test_mutated_seeds_agree_with_the_reference():
    """A fixed-seed stand-in for the fuzzer: each seed flipped, cut, extended and spliced 40 times."""
    rng = random.Random(6455)
    seeds = [path.read_bytes() for path in sorted(CORPUS.iterdir())]
    for _ in range(40):
        for data in seeds:
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                action = rng.randrange(4)
                if action == 0 and mutated:
                    mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
                elif action == 1 and len(mutated) > 5:
                    del mutated[rng.randrange(4, len(mutated)):]
                elif action == 2:
                    mutated += rng.choice(seeds)[4:]
                else:
                    mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            check(bytes(mutated))
