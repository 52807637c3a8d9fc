"""book.show_source(obj, statement=...): one statement of a function, at its true lines."""

import inspect

import pytest

from vitsd import book


def test_a_statement_is_shown_alone_with_its_own_line_numbers():
    from vitsd.training import runner

    shown = book.show_source(runner.train, statement="net.fit(")
    lines, start = inspect.getsourcelines(runner.train)
    # independent: the first line that starts the call, then up to its closing parenthesis
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith("net.fit("))
    indent = len(lines[first]) - len(lines[first].lstrip())
    last = next(i for i in range(first, len(lines)) if lines[i].rstrip() == " " * indent + ")")
    expected = "".join(line[indent:] for line in lines[first:last + 1])
    assert shown.code == expected
    assert shown.code.startswith("net.fit(") and shown.code.rstrip().endswith(")")
    assert shown.location == f"vitsd/training/runner.py, lines {start + first}-{start + last}"
    assert f"#L{start + first}-L{start + last}" in shown.url


def test_an_unknown_statement_names_the_parameter():
    from vitsd.training import runner

    with pytest.raises(ValueError, match=r"no statement starting with 'model\.train\('"):
        book.show_source(runner.train, statement="model.train(")
