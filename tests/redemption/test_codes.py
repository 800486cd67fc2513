"""The cheque code scheme: random, look-alike free, and a check character that catches typos."""

import math

from stdnum.iso7064 import mod_37_2

from redemption import codes

LOOK_ALIKES = set("0O1ILSZ")


def test_codes_are_random_long_enough_and_look_alike_free():
    sample = [codes.new_code() for _ in range(5_000)]
    assert len(set(sample)) == len(sample)
    assert all(len(code) == codes.LENGTH for code in sample)
    assert not LOOK_ALIKES & set("".join(sample))
    assert codes.RANDOM_LENGTH * math.log2(len(codes.ALPHABET)) >= 60
    # Every alphabet character is used at every random position (secrets, not a pattern).
    for position in range(codes.RANDOM_LENGTH):
        assert {code[position] for code in sample} == set(codes.ALPHABET)


def test_the_check_scheme_is_a_pure_system_over_a_prime_sized_alphabet():
    size = len(codes.ALPHABET)
    assert len(set(codes.ALPHABET)) == size and all(size % d for d in range(2, size))
    assert mod_37_2.is_valid(codes.new_code(), alphabet=codes.ALPHABET)


def test_any_case_and_separators_are_accepted():
    code = codes.new_code()
    printed = codes.grouped(code)
    assert printed.count("-") == 2 and printed.replace("-", "") == code
    for variant in (code, code.lower(), printed, printed.lower(), printed.replace("-", " "), f"  {printed}\n"):
        assert codes.normalize(variant) == code


def test_malformed_codes_are_refused():
    code = codes.new_code()
    for bad in ("", code[:-1], code + "2", code[:5] + "O" + code[6:], "ABC", None):
        assert codes.normalize(bad) is None


def test_every_single_substitution_and_adjacent_swap_is_caught_exhaustively_on_a_sample():
    for _ in range(300):
        code = codes.new_code()
        assert codes.normalize(code) == code
        for position in range(codes.LENGTH):
            for replacement in codes.ALPHABET:
                if replacement != code[position]:
                    typo = code[:position] + replacement + code[position + 1 :]
                    assert codes.normalize(typo) is None, (code, typo)
        for position in range(codes.LENGTH - 1):
            if code[position] != code[position + 1]:
                swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
                assert codes.normalize(swapped) is None, (code, swapped)


def test_codes_drawn_in_bulk_follow_the_same_scheme():
    sample = codes.new_codes(20_000)
    assert len(sample) == len(set(sample)) == 20_000 and codes.new_codes(0) == []
    assert all(len(code) == codes.LENGTH and mod_37_2.is_valid(code, alphabet=codes.ALPHABET) for code in sample)
    for position in range(codes.LENGTH):
        assert {code[position] for code in sample} == set(codes.ALPHABET)
