#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of tap_summary.py on hand-made TAP; run by `make check`.

    python3 tools/testing/test_tap_summary.py
"""
import contextlib
import io
import os
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap_summary  # noqa: E402


def counts(text):
    c = tap_summary.count_lines('t.tap', textwrap.dedent(text).splitlines())
    return c.passed, c.failed, c.skipped


def kunit_suite(name, plan, results):
    lines = ['KTAP version 1', '1..1', '    KTAP version 1', f'    # Subtest: {name}',
             f'    1..{plan}']
    lines += [f'    {r}' for r in results]
    failed = any(r.startswith('not ok') for r in results)
    lines.append(f'{"not ok" if failed else "ok"} 1 {name}')
    return '\n'.join(lines) + '\n'


class Flat(unittest.TestCase):
    def test_pass_fail_skip(self):
        self.assertEqual(counts("""
            TAP version 13
            1..4
            ok 1 a
            not ok 2 b
            ok 3 c # SKIP no device
            ok 4 d # XFAIL known
            """), (2, 1, 1))

    def test_plan_last(self):
        self.assertEqual(counts("""
            TAP version 13
            ok 1 a
            ok 2 b
            1..2
            """), (2, 0, 0))

    def test_short_of_the_plan(self):
        self.assertEqual(counts("""
            1..5
            ok 1 a
            ok 2 b
            """), (2, 3, 0))

    def test_more_than_planned(self):
        self.assertEqual(counts("""
            1..1
            ok 1 a
            ok 2 b
            """), (2, 1, 0))

    def test_empty_file_fails(self):
        self.assertEqual(counts(''), (0, 1, 0))

    def test_not_found_fails(self):
        self.assertEqual(counts('sh: 1: exec: rgup_x_test: not found\n'), (0, 1, 0))

    def test_skipped_as_a_whole_fails(self):
        self.assertEqual(counts('TAP version 13\n1..0 # SKIP no rgup\n'), (0, 1, 0))

    def test_results_without_a_plan_fail(self):
        self.assertEqual(counts('ok 1 a\nok 2 b\n'), (2, 1, 0))

    def test_bail_out(self):
        self.assertEqual(counts("""
            1..3
            ok 1 a
            Bail out! no knobs
            """), (1, 3, 0))

    def test_hash_in_a_description_is_no_directive(self):
        self.assertEqual(counts("""
            1..3
            ok 1 pin #3 of 4 skips nothing
            not ok 2 case #2 # SKIP but it failed
            ok 3 skip #1
            """), (2, 1, 0))

    def test_not_ok_skip_is_a_failure(self):
        self.assertEqual(counts('1..1\nnot ok 1 x # SKIP reason\n'), (0, 1, 0))

    def test_escaped_hash(self):
        self.assertEqual(counts('1..1\nok 1 a \\# SKIP b\n'), (1, 0, 0))

    def test_comments_are_not_results(self):
        self.assertEqual(counts("""
            1..1
            # ok 1 not a result
            #  RUN  x.y ...
            ok 1 x.y
            """), (1, 0, 0))


class Nested(unittest.TestCase):
    def test_kunit_suites_count_their_cases(self):
        text = kunit_suite('s1', 2, ['ok 1 a', 'ok 2 b'])
        text += kunit_suite('s2', 1, ['ok 1 c # SKIP no hw'])
        c = tap_summary.count_lines('kunit.tap', text.splitlines())
        self.assertEqual((c.passed, c.failed, c.skipped), (2, 0, 1))
        self.assertEqual(c.suites, {'s1': (2, 2), 's2': (1, 1)})

    def test_a_suite_short_of_its_plan(self):
        c = tap_summary.count_lines('k', kunit_suite('s', 5, ['ok 1 a', 'ok 2 b']).splitlines())
        self.assertEqual((c.passed, c.failed), (2, 3))
        self.assertIn('s: 3 of 5 planned results never reported', c.failures)

    def test_a_failed_parent_whose_children_passed(self):
        text = kunit_suite('s', 2, ['ok 1 a', 'ok 2 b']).replace('\nok 1 s', '\nnot ok 1 s')
        self.assertEqual(counts(text), (2, 1, 0))

    def test_a_failed_child_counts_once(self):
        self.assertEqual(counts(kunit_suite('s', 2, ['ok 1 a', 'not ok 2 b'])), (1, 1, 0))

    def test_a_suite_cut_off_before_its_parent_line(self):
        text = textwrap.dedent("""
            KTAP version 1
            1..1
                KTAP version 1
                # Subtest: s
                1..3
                ok 1 a
            """)
        text += kunit_suite('t', 1, ['ok 1 b'])
        # s: 2 cases missing; its document: the parent line missing.
        self.assertEqual(counts(text), (2, 3, 0))

    def test_subtest_without_a_name_line(self):
        c = tap_summary.count_lines('k', textwrap.dedent("""
            TAP version 13
            1..1
                1..2
                ok 1 a
                ok 2 b
            ok 1 group
            """).splitlines())
        self.assertEqual((c.passed, c.failed), (2, 0))
        self.assertEqual(c.suites, {'group': (2, 2)})


class Manifest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        with open(os.path.join(self.dir.name, name), 'w') as f:
            f.write(textwrap.dedent(text))

    def run_main(self, manifest):
        self.write('manifest', manifest)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = tap_summary.main(['--manifest', os.path.join(self.dir.name, 'manifest'),
                                   '--dir', self.dir.name])
        return rc, out.getvalue()

    def test_all_there(self):
        self.write('a.tap', '1..2\nok 1 x\nok 2 y # SKIP z\n')
        self.write('kunit.tap', kunit_suite('s', 2, ['ok 1 a', 'ok 2 b']))
        rc, out = self.run_main('file a.tap 2 1\nfile kunit.tap 2\nkunit s 2\n')
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.endswith('3 passed, 0 failed, 1 skipped\n'), out)

    def test_missing_file(self):
        self.write('a.tap', '1..1\nok 1 x\n')
        rc, out = self.run_main('file a.tap 1\nfile b.tap 3\n')
        self.assertEqual(rc, 1)
        self.assertIn('b.tap: missing', out)
        self.assertTrue(out.endswith('1 passed, 1 failed, 0 skipped\n'), out)

    def test_short_file(self):
        self.write('a.tap', '1..1\nok 1 x\n')
        rc, out = self.run_main('file a.tap 4\n')
        self.assertEqual(rc, 1)
        self.assertIn('a.tap: 1 results, expected at least 4', out)

    def test_too_many_skips(self):
        self.write('a.tap', '1..2\nok 1 x\nok 2 y # SKIP z\n')
        rc, out = self.run_main('file a.tap 2\n')
        self.assertEqual(rc, 1)
        self.assertIn('a.tap: 1 skipped, at most 0 expected', out)

    def test_missing_and_short_suites(self):
        self.write('kunit.tap', kunit_suite('s', 2, ['ok 1 a', 'ok 2 b']))
        rc, out = self.run_main('file kunit.tap 2\nkunit s 3\nkunit t 1\n')
        self.assertEqual(rc, 1)
        self.assertIn('KUnit suite s: 2 cases, expected at least 3', out)
        self.assertIn('KUnit suite t: missing', out)

    def test_unlisted_file(self):
        self.write('a.tap', '1..1\nok 1 x\n')
        self.write('new.tap', '1..1\nok 1 y\n')
        rc, out = self.run_main('file a.tap 1\n')
        self.assertEqual(rc, 1)
        self.assertIn('new.tap: not in the manifest', out)

    def test_lines_for_one_kernel(self):
        self.write('a.tap', '1..2\nok 1 x\nok 2 y\n')
        manifest = 'test: file a.tap 3\ndebug: file a.tap 2\n'
        rc, out = self.run_main(manifest)
        self.assertEqual(rc, 1)
        self.assertIn('a.tap: 2 results, expected at least 3', out)
        self.write('manifest', manifest)
        with contextlib.redirect_stdout(io.StringIO()):
            rc = tap_summary.main(['--manifest', os.path.join(self.dir.name, 'manifest'),
                                   '--dir', self.dir.name, '--kernel', 'debug'])
        self.assertEqual(rc, 0)

    def test_bad_manifest_line(self):
        with self.assertRaises(ValueError):
            self.run_main('file a.tap\n')


if __name__ == '__main__':
    unittest.main()
