"""The summary of FerretDB's CPU profile: samples read from ``go tool pprof -traces``, each
counted for the kind of work of its innermost frame that has one."""

from __future__ import annotations

from bench.ferretdb_profile import OTHER, kind_of, samples, summarise

TRACES = """File: ferretdb
Type: cpu
Duration: 8s, Total samples = 70ms ( 0.88%)
-----------+-------------------------------------------------------
      20ms   runtime.mallocgc
             encoding/json.(*decodeState).object
             github.com/FerretDB/FerretDB/internal/handler/sjson.Unmarshal
             github.com/FerretDB/FerretDB/internal/clientconn.(*conn).run
-----------+-------------------------------------------------------
      10ms   runtime.scanobject
             runtime.gcDrain
             runtime.gcAssistAlloc
             encoding/json.(*decodeState).object
-----------+-------------------------------------------------------
      30ms   modernc.org/libc.Xmemcpy
             modernc.org/sqlite/lib._sqlite3VdbeExec
             github.com/FerretDB/FerretDB/internal/util/fsql.(*DB).QueryContext
-----------+-------------------------------------------------------
    10000us   runtime.unlock2
             runtime.schedule
-----------+-------------------------------------------------------
"""


def test_each_sample_is_read_with_its_seconds_and_stack_innermost_first() -> None:
    read = list(samples(TRACES))

    assert [round(seconds, 3) for seconds, _ in read] == [0.02, 0.01, 0.03, 0.01]
    assert read[0][1][0] == "runtime.mallocgc"
    assert read[2][1][-1] == "github.com/FerretDB/FerretDB/internal/util/fsql.(*DB).QueryContext"


def test_a_sample_is_the_kind_of_its_innermost_frame_that_has_one() -> None:
    stacks = [stack for _, stack in samples(TRACES)]

    assert kind_of(stacks[0]).startswith("documents to and from JSON")  # not the allocation
    assert kind_of(stacks[1]) == "garbage collection"  # a GC assist, inside a JSON decode
    assert kind_of(stacks[2]).startswith("SQLite, the rest")  # not fsql, further out
    assert kind_of(stacks[3]) == OTHER


def test_the_summary_gives_seconds_then_shares_by_kind_then_functions() -> None:
    lines = summarise(TRACES)

    assert lines[0] == "on-CPU: 0.1 s sampled"
    assert lines[1] == "kind:  42.9%  SQLite, the rest (C translated to Go)"
    assert "kind:  28.6%  documents to and from JSON (FerretDB's storage format)" in lines
    assert "function:  42.9%  modernc.org/libc.Xmemcpy" in lines
