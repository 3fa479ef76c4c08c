"""Try it inputs (issue #27 item 15): the chosen start image is named by its position and the digit it shows."""

from ui.tryit_inputs import start_image_text


def test_the_start_image_is_named_with_the_digit_it_shows():
    assert start_image_text(0, ["3", "7"]) == "test image 0 (a 3)"  # not "test digit 0" showing a 3
    assert start_image_text(1) == "test image 1"
