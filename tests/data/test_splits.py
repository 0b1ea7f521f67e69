"""Split maps: writer-disjoint dev and test splits for datasets whose manifests say only "train"."""

import csv
from pathlib import Path

import pytest

from sparkhtr.data.datasets import open_dataset
from sparkhtr.data.splits import read_split_map, split_map_for

REPO = Path(__file__).resolve().parents[2]
SPLITS = REPO / "configs" / "splits"


def _groups(dataset: Path) -> dict[str, str]:
    with (dataset / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        return {r["id"]: r["group"] for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)}


def test_a_group_map_moves_whole_groups_and_leaves_the_rest(small_dataset, copiste_dir, tmp_path):
    groups = _groups(copiste_dir)
    train = open_dataset(str(small_dataset), split="train")
    moved = groups[train[0].id]
    (small_dataset_map := tmp_path / "map.tsv").write_text(f"group\tsplit\n{moved}\tdev\n", "utf-8")
    # the small dataset's manifest has no group column: a map by group says so instead of moving nothing
    with pytest.raises(ValueError, match="no group"):
        open_dataset(str(small_dataset), splits=small_dataset_map)
    dev = open_dataset(str(copiste_dir), split="dev", splits=small_dataset_map)
    assert dev and {groups[s.id] for s in dev} == {moved}
    assert all(s.group == moved for s in dev)
    untouched = open_dataset(str(copiste_dir), split="val", splits=small_dataset_map)
    assert len(untouched) == len(open_dataset(str(copiste_dir), split="val"))


def test_an_id_map_moves_single_lines(small_dataset, tmp_path):
    samples = open_dataset(str(small_dataset))
    path = tmp_path / "ids.tsv"
    path.write_text(f"id\tsplit\n{samples[0].id}\ttest\n", "utf-8")
    assert [s.id for s in open_dataset(str(small_dataset), split="test", splits=path)] == [samples[0].id]


def test_a_folder_of_maps_picks_the_dataset_s_own_and_none_for_others(copiste_dir, small_dataset):
    assert split_map_for(copiste_dir, SPLITS).path.name == "copiste_dun_jour_fr.tsv"
    assert split_map_for(small_dataset, SPLITS) is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [("writer\tsplit\nw\tdev\n", "header"), ("group\tsplit\nw\n", ":2: expected"),
     ("group\tsplit\nw\tdev\nw\ttrain\n", ":3: 'w' is given a split twice")],
)
def test_a_malformed_map_names_the_file_and_line(tmp_path, content, problem):
    path = tmp_path / "bad.tsv"
    path.write_text(content, "utf-8")
    with pytest.raises(ValueError, match=problem) as info:
        read_split_map(path)
    assert "bad.tsv" in str(info.value)


@pytest.mark.full_shared
def test_the_shipped_splits_keep_dev_and_test_writers_out_of_train(copiste_dir):
    """Every shipped map names groups (or lines) that exist, and no group is in two splits."""
    data = copiste_dir.parent
    for path in sorted(SPLITS.glob("*.tsv")):
        dataset = data / path.stem
        if not dataset.is_dir():
            continue
        samples = open_dataset(str(dataset), splits=SPLITS)
        split_map = read_split_map(path)
        known = {s.group if split_map.key == "group" else s.id for s in samples}
        assert set(split_map.splits) <= known, path.name
        if split_map.key == "group":
            by_group: dict[str, set[str]] = {}
            for s in samples:
                by_group.setdefault(s.group, set()).add(s.split)
            assert all(len(splits) == 1 for splits in by_group.values()), path.name
    test = open_dataset(str(data / "testaments_poilus_fr"), splits=SPLITS)
    assert test and {s.split for s in test} == {"test"}
