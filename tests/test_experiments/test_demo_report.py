"""The drawn detections' rules with hand-made numbers: matching, threshold, picked images,
label placement, and the report's sentence."""
import numpy as np
import pytest

from mmkd.experiments.demo_report import (
    best_threshold,
    detections_sentence,
    match,
    pick_images,
    place_labels,
)


def test_match_takes_each_ground_truth_box_once_by_descending_score():
    gt_boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], np.float32)
    gt_labels = np.array([0, 1])
    boxes = np.array([[0, 0, 10, 10],     # on box 0, lower score: box 0 already taken
                      [0, 0, 10, 11],     # on box 0, higher score: takes it
                      [20, 0, 30, 10],    # on box 1 but of class 0
                      [20, 0, 30, 25]],   # class 1, IoU 100 / 250 = 0.4 with box 1
                     np.float32)
    labels = np.array([0, 0, 0, 1])
    scores = np.array([0.6, 0.9, 0.8, 0.7])
    found = match(boxes, labels, scores, gt_boxes, gt_labels)
    assert found.tolist() == [False, True, False, False]
    # IoU 0.4 is a match at a lower IoU threshold
    assert match(boxes, labels, scores, gt_boxes, gt_labels, iou_thr=0.4).tolist() == [
        False, True, False, True]
    assert match(boxes[:0], labels[:0], scores[:0], gt_boxes, gt_labels).tolist() == []
    assert not match(boxes, labels, scores, gt_boxes[:0], gt_labels[:0]).any()


def test_threshold_with_the_best_f1_the_highest_on_a_tie():
    scores = np.array([0.9, 0.8, 0.6, 0.4])
    found = np.array([True, False, True, False])
    # F1 = 2 TP / (kept + 2): t <= 0.4: 4/6; 0.4 < t <= 0.6: 4/5; up to 0.8: 2/4; 0.9: 2/3
    thr, f1 = best_threshold(scores, found, num_gt=2)
    assert thr == pytest.approx(0.6) and f1 == pytest.approx(0.8)
    # the lowest detection finds a box too, of 5: 2 TP / (kept + 5) is best keeping all
    thr, f1 = best_threshold(scores, np.array([True, False, True, True]), num_gt=5)
    assert thr == pytest.approx(0.4) and f1 == pytest.approx(6 / 9)
    # a grid without 0.6: 0.3 and 0.4 keep all (F1 4/6), 0.7 two (2/4); 0.4 wins the tie
    thr, f1 = best_threshold(scores, found, 2, thresholds=np.array([0.3, 0.4, 0.7]))
    assert thr == 0.4 and f1 == pytest.approx(4 / 6)
    # nothing found: F1 is 0 everywhere, the highest threshold draws fewest boxes
    assert best_threshold(scores, np.zeros(4, bool), 2) == (0.99, 0.0)


def test_images_where_the_two_models_differ_most_come_first():
    student = [2, 1, 3, 0, 4]
    distilled = [2, 3, 0, 1, 3]
    assert pick_images(student, distilled, 3) == [2, 1, 3]  # differences 3, 2, then 1
    assert pick_images(student, distilled, 10) == [2, 1, 3, 4, 0]  # 3 and 4 tie: in order
    assert pick_images([5, 0], [0, 5], 1) == [0]  # either way, in order on a tie


def test_labels_at_the_same_spot_are_placed_apart():
    box = (20, 40, 80, 90)
    corners = place_labels([box, box], [(30, 10), (30, 10)], (0, 0, 200, 200))
    assert corners == [(20, 30), (20, 40)]  # above the box, then inside its top


def test_labels_shift_into_bounds_and_are_left_out_when_no_place_is_free():
    # a box at the top left corner: the label above would leave the bounds
    assert place_labels([(0, 0, 50, 50)], [(30, 10)], (0, 5, 100, 100)) == [(0, 5)]
    # right edge: shifted left to fit
    assert place_labels([(90, 50, 99, 60)], [(30, 10)], (0, 0, 100, 100)) == [(70, 40)]
    # a short box: above, inside and below are taken by the first four; the fifth is left out
    box = (10, 50, 60, 60)
    corners = place_labels([box] * 5, [(30, 10)] * 5, (0, 0, 200, 200))
    assert corners == [(10, 40), (10, 50), (10, 60), None, None]  # inside bottom = inside top


def test_sentence_names_the_rules_and_each_threshold():
    drawn = dict(paths=['a', 'b'], pair=('Student alone', 'Distilled student'),
                 num_candidates=100,
                 thresholds={'Teacher': 0.62, 'Student alone': 0.45, 'Distilled student': 0.5},
                 f1={'Teacher': 0.914, 'Student alone': 0.7, 'Distilled student': 0.8})
    text = detections_sentence(drawn)
    assert text.startswith('the 2 of the first 100 test images where the student alone and '
                           'the distilled student find the most different numbers')
    assert ('teacher 0.62 (F1 0.91); student alone 0.45 (F1 0.70); distilled student 0.50 '
            '(F1 0.80)') in text
