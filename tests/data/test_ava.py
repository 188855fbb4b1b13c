import numpy as np
import pytest

from amma_edge.data.formats import load_ava, load_ava_csv, load_ava_excluded, load_ava_label_map
from amma_edge.errors import AmmaEdgeError

# The official files have no header; timestamps are zero-padded whole seconds, boxes normalised 0-1.
CSV = """\
-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1
-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,9,1
-5KQ66BBWC4,0902,0.332,0.194,0.481,0.891,12,0
-5KQ66BBWC4,0903,0.070,0.150,0.290,0.820,80,1
-5KQ66BBWC4,0904,0.1,0.1,0.2,0.2,12,3
1j20qq1JyX4,1798,0.5,0.5,1.0,1.0,17,2
1j20qq1JyX4,1798,0.5,0.5,1.0,1.0,80,2
"""

ITEM_MAP = """\
item {
  name: "bend/bow (at the waist)"
  id: 1
}
item {
  name: "stand"
  id: 12
}
item {
  name: "carry/hold (an object)"
  id: 17
}
item {
  name: "watch (a person)"
  id: 80
}
"""

LABEL_MAP = """\
# the 80-action list with label types
label {
  name: "bend/bow (at the waist)"
  label_id: 1
  label_type: PERSON_MOVEMENT
}
label {
  name: "stand"
  label_id: 12
  label_type: PERSON_MOVEMENT
}
label {
  name: "carry/hold (an object)"
  label_id: 17
  label_type: OBJECT_MANIPULATION
}
label {
  name: "watch (a person)"
  label_id: 80
  label_type: PERSON_INTERACTION
}
label {
  name: "dance"
  label_id: 9
  label_type: PERSON_MOVEMENT
}
"""

EXCLUDED = "-5KQ66BBWC4,0904\n"


@pytest.fixture
def ava_dir(tmp_path):
    (tmp_path / "ava_val_v2.2.csv").write_text(CSV)
    (tmp_path / "ava_action_list_v2.2_for_activitynet_2019.pbtxt").write_text(ITEM_MAP)
    (tmp_path / "ava_action_list_v2.2.pbtxt").write_text(LABEL_MAP)
    (tmp_path / "ava_val_excluded_timestamps_v2.2.csv").write_text(EXCLUDED)
    return tmp_path


def test_rows_group_into_keyframes_of_persons_with_all_their_actions(ava_dir):
    ava = load_ava_csv(ava_dir / "ava_val_v2.2.csv")
    assert [(k.video, k.timestamp) for k in ava.keyframes] == [
        ("-5KQ66BBWC4", 902), ("-5KQ66BBWC4", 903), ("-5KQ66BBWC4", 904), ("1j20qq1JyX4", 1798)]
    first = ava.keyframes[0]
    assert [(p.person_id, p.actions) for p in first.persons] == [(0, (12,)), (1, (9, 80))]
    np.testing.assert_allclose(first.boxes(), [[0.332, 0.194, 0.481, 0.891], [0.077, 0.151, 0.283, 0.811]], rtol=1e-6)
    np.testing.assert_array_equal(first.multi_hot([9, 12, 80]), [[0, 1, 0], [1, 0, 1]])
    assert ava.videos == ["-5KQ66BBWC4", "1j20qq1JyX4"]
    assert ava.keyframe("1j20qq1JyX4", 1798).persons[0].actions == (17, 80)


def test_both_label_map_variants_read_the_same_names(ava_dir):
    items = load_ava_label_map(ava_dir / "ava_action_list_v2.2_for_activitynet_2019.pbtxt")
    labels = load_ava_label_map(ava_dir / "ava_action_list_v2.2.pbtxt")
    assert items.names == {1: "bend/bow (at the waist)", 12: "stand", 17: "carry/hold (an object)",
                           80: "watch (a person)"}
    assert {k: v for k, v in labels.names.items() if k != 9} == items.names
    assert labels.types[17] == "OBJECT_MANIPULATION" and items.types == {}
    assert labels.ids == [1, 9, 12, 17, 80]


def test_excluded_timestamps_and_actions_outside_the_label_map_are_left_out_and_counted(ava_dir):
    assert load_ava_excluded(ava_dir / "ava_val_excluded_timestamps_v2.2.csv") == {("-5KQ66BBWC4", 904)}
    ava = load_ava(ava_dir / "ava_val_v2.2.csv", ava_dir / "ava_action_list_v2.2_for_activitynet_2019.pbtxt",
                   ava_dir / "ava_val_excluded_timestamps_v2.2.csv")
    assert [(k.video, k.timestamp) for k in ava.keyframes] == [
        ("-5KQ66BBWC4", 902), ("-5KQ66BBWC4", 903), ("1j20qq1JyX4", 1798)]
    assert ava.keyframes[0].persons[1].actions == (80,)  # action 9 is not among the 60-class items
    assert (ava.skipped_rows, ava.excluded_rows) == (1, 1)


def test_unknown_action_can_be_made_an_error(ava_dir):
    with pytest.raises(AmmaEdgeError, match=r"ava_val_v2\.2\.csv, line 2: action_id 9 is not in the label map"):
        load_ava(ava_dir / "ava_val_v2.2.csv", ava_dir / "ava_action_list_v2.2_for_activitynet_2019.pbtxt",
                 unknown_actions="error")


@pytest.mark.parametrize("row, message", [
    ("-5KQ66BBWC4,0905,0.1,0.1,0.2,0.2,12", "expected 8 fields"),
    ("-5KQ66BBWC4,0905,0.1,0.1,0.2,0.2,12,1,0.9", "expected 8 fields"),
    ("-5KQ66BBWC4,0905.5,0.1,0.1,0.2,0.2,12,1", "timestamp '0905.5' is not a whole number"),
    ("-5KQ66BBWC4,0905,0.1,abc,0.2,0.2,12,1", "y1 'abc' is not a number"),
    ("-5KQ66BBWC4,0905,0.1,0.1,1.2,0.2,12,1", "x2 1.2 is outside 0-1"),
    ("-5KQ66BBWC4,0905,0.3,0.1,0.2,0.2,12,1", "empty or inverted"),
    ("-5KQ66BBWC4,0905,0.1,0.1,0.2,0.2,0,1", "action_id 0 is below 1"),
    ("-5KQ66BBWC4,0905,0.1,0.1,0.2,0.2,12,-1", "person_id -1 is below 0"),
    (",0905,0.1,0.1,0.2,0.2,12,1", "video_id is empty"),
])
def test_malformed_row_names_file_and_line(tmp_path, row, message):
    path = tmp_path / "ava_train_v2.2.csv"
    path.write_text(CSV + "\n" + row + "\n")  # a blank line before it: line numbers are file lines
    with pytest.raises(AmmaEdgeError) as err:
        load_ava_csv(path)
    assert f"{path}, line 9: " in str(err.value) and message in str(err.value)


def test_header_row_is_rejected_with_a_hint(tmp_path):
    path = tmp_path / "ava.csv"
    path.write_text("video_id,timestamp,x1,y1,x2,y2,action_id,person_id\n" + CSV)
    with pytest.raises(AmmaEdgeError, match=r"line 1: timestamp 'timestamp' .*no header row"):
        load_ava_csv(path)


def test_malformed_excluded_row_names_file_and_line(tmp_path):
    path = tmp_path / "excluded.csv"
    path.write_text("-5KQ66BBWC4,0904\n-5KQ66BBWC4\n")
    with pytest.raises(AmmaEdgeError, match=r"excluded\.csv, line 2: expected 2 fields"):
        load_ava_excluded(path)


@pytest.mark.parametrize("text, message", [
    ('item {\n  name: "stand"\n}\n', "line 1: this item block needs both a name and an id"),
    ('item {\n  name: "stand"\n  id: 12\n}\nitem {\n  name: "sit"\n  id: 12\n}\n',
     "line 7: action id 12 appears twice"),
    ('item {\n  name: "stand"\n  id: twelve\n}\n', "line 3: id 'twelve' is not a whole number"),
    ('item {\n  name: "stand"\n  id: 12\n', "truncated"),
    ("nothing here\n", "line 1: expected an 'item {' or 'label {' block"),
])
def test_malformed_label_map_names_the_line(tmp_path, text, message):
    path = tmp_path / "map.pbtxt"
    path.write_text(text)
    with pytest.raises(AmmaEdgeError) as err:
        load_ava_label_map(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AmmaEdgeError, match="does not exist"):
        load_ava_csv(tmp_path / "absent.csv")
