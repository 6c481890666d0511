"""Message templates: the one definition of "this is the message" for harness and search."""

import pytest

from kb.templates import TemplateError, compile_template, first_line, matches, prefix, strip_ansi


def test_variable_parts_match_any_value():
    t = "mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {in}x{out})"
    assert matches(t, "mat1 and mat2 shapes cannot be multiplied (64x512 and 256x10)")
    assert not matches(t, "mat1 and mat2 shapes cannot be multiplied")


def test_whole_first_line_must_match_not_just_a_prefix():
    t = "grad can be implicitly created only for scalar"
    assert not matches(t, "grad can be implicitly created only for scalar outputs")


def test_only_the_first_line_of_a_message_counts():
    t = "Error(s) in loading state_dict for {model}:"
    assert matches(t, "Error(s) in loading state_dict for Net:\n\tMissing key(s): 'w'.")


def test_ansi_codes_and_spacing_are_ignored():
    t = "Weights only load failed. {rest}"
    message = "Weights only load failed. \x1b[1mdo those steps\x1b[0m only if you trust it"
    assert matches(t, message)
    assert strip_ansi("\x1b[31mred\x1b[0m") == "red"
    assert matches("a b", "a   b")


def test_literal_braces_and_unbalanced_ones():
    assert matches("dict {{}} found {x}", "dict {} found 3")
    with pytest.raises(TemplateError):
        compile_template("oops {unclosed")


def test_prefix_is_text_before_first_variable():
    assert prefix("Expected input batch_size ({n}) to match") == "Expected input batch_size ("
    assert first_line("\n\n  hello \nworld") == "hello"
