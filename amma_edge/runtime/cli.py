"""`amma-edge run`: detect actions live from a camera, a stream, a file or the synthetic generator.

    amma-edge run video.mp4 --model runs/export/amma-s          # -> runs/<time>/annotated.mp4, events.jsonl, summary.json
    amma-edge run --camera 0 display://0 --model best.pt
    amma-edge run csi://0 --model amma-s.engine --headless
    amma-edge run "synthetic://?classes=walk,sit_down&frames=200" --model export/ --max-frames 100

The first Ctrl-C stops at the end of the current clip: the outputs are closed complete and the summary is
printed. A second one stops at once (still closing the outputs).
"""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import click

from amma_edge.errors import AmmaEdgeError


def default_model_path() -> Path | None:
    """The model `amma-edge run` uses without --model: the bundled demo model (see `amma_edge.demo`)."""
    from amma_edge.demo import demo_model_path

    return demo_model_path()


def default_source() -> str | None:
    """The source `amma-edge run` reads without SOURCE or --camera: the demo's synthetic stream."""
    from amma_edge.demo import DEMO_SOURCE

    return DEMO_SOURCE


def _run_dir(out_dir: Path | None, force: bool) -> Path:
    """The run folder (made when the run starts); refuses one holding files unless forced."""
    folder = out_dir or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if folder.exists() and any(folder.iterdir()) and not force:
        raise AmmaEdgeError(f"{folder} already holds files: pick another --out-dir, or pass --force to replace them")
    return folder


@click.command("run")
@click.argument("source", required=False)
@click.argument("output", required=False)
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="An export folder (encoder.onnx + head.onnx), an engine, or a checkpoint (.pt).")
@click.option("--backend", type=click.Choice(["ort", "trt", "torch"]), default=None,
              help="Engine to run the model with. Default: from the files (.onnx: ort, .engine: trt, .pt: torch).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Tubes and boxes scoring below this are not reported or drawn.")
@click.option("--trim", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="When a tube ends, keep only its run of tubelets with the largest sum of score - TRIM x its "
                   "best score (0: whole tubes).")
@click.option("--camera", type=click.IntRange(min=0), default=None, help="Read V4L2 camera N instead of SOURCE.")
@click.option("--headless", is_flag=True, help="Never open a window, even where a display exists.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after N frames.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for annotated.mp4, events.jsonl, summary.json. Default: runs/<date-time>/.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads per engine (ONNX Runtime intra-op, PyTorch). Default: the engine's choice.")
@click.option("--compile", "compile_", is_flag=True, help="PyTorch only: run the model through torch.compile.")
@click.option("--force", is_flag=True, help="Write into --out-dir even if it already holds files.")
def run_command(source: str | None, output: str | None, model_path: Path | None, backend: str | None,
                threshold: float, trim: float, camera: int | None, headless: bool, max_frames: int | None, out_dir: Path | None,
                threads: int | None, compile_: bool, force: bool) -> None:
    """Detect actions in SOURCE and write them to OUTPUT (and the run folder).

    SOURCE: a video file, an image folder, a camera (0, /dev/video0, v4l2:///dev/video0), csi://0, rtsp://...,
    gst://PIPELINE or synthetic://?seed=1&classes=walk,sit_down&size=320x240&frames=200.
    OUTPUT: display://0, or a video path (.mp4 / .avi / file://...). Default: annotated.mp4 in the run folder,
    plus a window where a display exists (unless --headless).
    """
    from amma_edge.runtime.capture import open_source
    from amma_edge.runtime.linking import LinkerConfig
    from amma_edge.runtime.pipeline import Pipeline, PipelineConfig
    from amma_edge.runtime.runners import RunnerOptions, open_model
    from amma_edge.runtime.sinks import open_sink
    from amma_edge.runtime.sinks.display import display_problem

    model_path = model_path or default_model_path()
    if model_path is None:
        raise AmmaEdgeError("no model: pass --model (an `amma-edge export` folder, an engine, or a checkpoint .pt); "
                            "the bundled demo model is missing from this installation")
    if camera is not None and source is not None:
        raise AmmaEdgeError(f"give either SOURCE ({source}) or --camera {camera}, not both")
    source_uri = str(camera) if camera is not None else source or default_source()
    if source_uri is None:
        raise AmmaEdgeError("no source: give a SOURCE (a video, a folder, a camera index, csi://0, rtsp://..., "
                            "synthetic://) or --camera N")
    if output is not None and output.startswith("display://") and headless:
        raise AmmaEdgeError("OUTPUT display:// and --headless contradict each other: drop one")

    folder = _run_dir(out_dir, force)
    options = RunnerOptions(threads=threads, compile=compile_)
    with open_model(model_path, backend, options) as model:
        video = open_source(source_uri)
        try:
            fps = video.fps
            outputs = [str(folder / "events.jsonl"), str(folder / "summary.json")]
            if output is not None and not output.startswith("display://"):
                outputs.append(output)
            else:
                outputs.append(str(folder / "annotated.mp4"))
                if output is not None or (not headless and display_problem() is None):
                    outputs.append(output or "display://0")
            sinks = [open_sink(o, fps=fps) for o in outputs]  # checks every output before anything is written
            folder.mkdir(parents=True, exist_ok=True)
            click.echo(f"model:  {model.describe()}")
            click.echo(f"source: {video.describe()}")
            click.echo(f"output: {', '.join(s.describe() for s in sinks)}")
            stop = threading.Event()
            config = PipelineConfig(threshold=threshold, max_frames=max_frames, linker=LinkerConfig(trim=trim))
            pipeline = Pipeline(model, video, sinks, config, stop=stop)
            with _stop_on_ctrl_c(stop):
                result = pipeline.run()
        finally:
            video.close()
    _report(result, [o for o in outputs if not o.startswith("display://")])


class _stop_on_ctrl_c:
    """First Ctrl-C: set `stop` (the pipeline ends after the current clip). Second: KeyboardInterrupt."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.previous = None

    def _handler(self, signum, frame) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        click.echo("\nstopping after this clip (Ctrl-C again to stop now)...", err=True)

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _report(result, written: list[str]) -> None:
    s = result.summary
    click.echo("")
    click.echo(result.timing_table)
    click.echo("")
    capture = s["capture"]
    dropped = f", {capture['dropped']} dropped by the source" if capture["dropped"] else ""
    click.echo(f"{s['frames']} frames in {s['seconds']:.1f} s: {s['fps']:.1f} FPS end to end{dropped} "
               f"({s['stopped_by'].replace('_', ' ')})")
    tubes = s["tubes"]
    click.echo(f"{len(tubes)} action tube(s) at score >= {s['threshold']} ({s['tubes_accepted']} linked in all)")
    for tube in tubes[:10]:
        click.echo(f"  {tube['class']:<16} {tube['score']:.2f}  frames {tube['first_frame']}-{tube['last_frame']}")
    if len(tubes) > 10:
        click.echo(f"  ... and {len(tubes) - 10} more in summary.json")
    click.echo("wrote " + ", ".join(written))
