import io

from amma_edge.eval.progress import VideoProgress


def run(progress: VideoProgress, names: list[str]) -> None:
    for i, name in enumerate(names):
        progress(i, len(names), name)
    progress.close()


def test_a_log_gets_whole_lines_for_about_a_tenth_of_the_videos():
    log = io.StringIO()
    run(VideoProgress(log, tty=False), [f"v{i}" for i in range(95)])
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "[1/95] v0" and lines[-1] == "[95/95] v94"
    assert 9 <= len(lines) <= 12


def test_a_terminal_line_is_redrawn_without_the_tail_of_a_longer_name():
    tty = io.StringIO()
    run(VideoProgress(tty, tty=True), ["a_long_video_name", "short"])
    last = tty.getvalue().split("\r")[-1]
    assert last.rstrip() == "[2/2] short" and last.endswith("\n")
    assert len(last.rstrip("\n")) == len("[1/2] a_long_video_name")


def test_a_stream_that_cannot_say_whether_it_is_a_terminal_counts_as_a_log():
    class NoTty(io.StringIO):
        def isatty(self):
            raise ValueError("closed")

    log = NoTty()
    run(VideoProgress(log), ["only"])
    assert log.getvalue() == "[1/1] only\n"
