"""The one table renderer: Markdown, HTML and text agree on the cells; bad rows are refused."""
import pytest

from minilib.tables import Table


def test_records_to_markdown_html_and_text():
    t = Table.from_records([{"a": 1.23456, "b": "x"}, {"a": 0.0, "b": float("nan")}, {"a": None}], ["a", "b"],
                           title="T", note="a < b")
    assert t.to_markdown().splitlines()[2:] == ["| a | b |", "|---|---|", "| 1.23 | x |", "| 0 | – |", "|  |  |"]
    html = t._repr_html_()
    assert "<caption>T</caption>" in html and "<td>1.23</td>" in html and "a &lt; b" in html
    assert str(t).splitlines() == ["T", "   a  b", "1.23  x", "   0  –", " " * 7]
    assert t.column("a") == ["1.23", "0", ""]


def test_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="a row has 1 cells but the header has 2"):
        Table(["a", "b"], [[1]])


def test_pipes_are_escaped_in_markdown():
    assert "| x\\|y |" in Table(["c"], [["x|y"]]).to_markdown()
