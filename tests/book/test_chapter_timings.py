"""vitsd.book.records.timing_table and timing_note (chapter 9): the recorded executions,
narrowed, and what they share in words."""

from vitsd.book.records import timing_note, timing_table


def test_timing_table_drops_constant_columns_and_returns_them():
    rows = [{"chapter": "01_data", "seconds": 10.0, "dataset": "cifar100", "size": None,
             "epochs": 25, "device": "CPU: X", "backend": "tensorflow 2.21", "date": "d"},
            {"chapter": "08_going_further", "seconds": 60.0, "dataset": "cifar100",
             "size": "tiny", "epochs": 2, "device": "CPU: X", "backend": "tensorflow 2.21",
             "date": "d"}]
    narrow, shared = timing_table(rows)
    assert shared == {"dataset": "cifar100", "device": "CPU: X", "backend": "tensorflow 2.21",
                      "date": "d"}
    assert narrow == [{"chapter": "01 data", "seconds": 10.0, "size": None, "epochs": 25},
                      {"chapter": "08 going further", "seconds": 60.0, "size": "tiny",
                       "epochs": 2}]
    # one row: everything but the kept columns is shared
    narrow, shared = timing_table(rows[:1])
    assert narrow == [{"chapter": "01 data", "seconds": 10.0}] and shared["epochs"] == 25
    assert timing_table([]) == ([], {})
    # a kept column stays even when constant
    narrow, _ = timing_table([dict(rows[0], seconds=5.0), dict(rows[1], seconds=5.0)])
    assert all("seconds" in r for r in narrow)


def test_timing_note_names_only_what_is_shared():
    assert timing_note({"dataset": "cifar100", "device": "CPU: X", "backend": "tf 2",
                        "date": "d"}) == ("Every execution shown ran on the dataset cifar100, "
                                          "on CPU: X, with tf 2, on d.")
    assert timing_note({"device": "CPU: X"}) == "Every execution shown ran on CPU: X."
    assert "differ" in timing_note({})


def test_a_device_that_differs_between_chapters_reads_short():
    rows = [{"chapter": "01_data", "seconds": 1.0,
             "device": "CPU: Intel(R) Xeon(R) Processor (2 cores)"},
            {"chapter": "03_spt", "seconds": 2.0, "device": "CPU: AMD EPYC (2 cores)"}]
    narrow, shared = timing_table(rows)
    assert shared == {}
    assert [r["device"] for r in narrow] == ["Intel Xeon (2 cores)", "AMD EPYC (2 cores)"]
