"""The README's numbers: its results table is what `tools/campaign.py table --against vit`
prints from the published records, and the setup it describes is the records' own."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.fixture
def campaign(load_tool):
    return load_tool("campaign")


def test_the_results_table_is_the_one_the_campaign_prints(campaign):
    table = campaign.results_table(campaign.CAMPAIGNS["cifar100"], ROOT / "results",
                                   against="vit")
    assert "per-image files missing" not in table
    assert table in README, "regenerate it: python tools/campaign.py table --against vit"
    why = campaign.results_table(campaign.CAMPAIGNS["cifar100-why"], ROOT / "results",
                                 against="vit")
    assert why in README, ("regenerate it: python tools/campaign.py table --campaign "
                           "cifar100-why --against vit")
    if "one seed of each so far" in re.sub(r"\s+", " ", README):  # the sentence under it
        rows = [r for r in why.splitlines()[2:] if "(20%)" in r]
        assert rows and all(r.split(" | ")[4] == "1" for r in rows), "update the sentence"


def test_the_setup_it_describes_is_the_records(campaign):
    plan = campaign.CAMPAIGNS["cifar100"]["plan"]  # the main runs the table shows
    folder = ROOT / "results" / "cifar100"
    records = [json.loads((folder / f"{e['name']}.json").read_text())
               for e in plan if not e.get("pilot")]
    assert len(records) == 12
    for r in records:
        c, splits = r["config"], r["splits"]
        assert (splits["train"], splits["validation"], splits["test"]) == (45000, 5000, 10000)
        assert c["epochs"] == 25
        if r["model"] != "resnet20":
            assert (c["image_size"], c["patch_size"], c["num_layers"], c["projection_dim"]) \
                == (32, 4, 4, 64)
    sentence = re.sub(r"\s+", " ", README)
    assert "32x32 inputs, 4x4 patches, 4 blocks of width 64" in sentence
    assert "trained identically for 25 epochs on 45,000 of the official training images " \
           "(the other 5,000 pick the kept epoch), each scored once on the 10,000 official " \
           "test images" in sentence


def test_every_linked_page_exists():
    for link in re.findall(r"\]\(([^)#]+\.md)\)", README):
        assert (ROOT / link).is_file(), link
    for page in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (page.parent / link).resolve().is_file(), (page.name, link)
