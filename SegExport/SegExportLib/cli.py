"""The ``segexport`` command: export, inspect and upload DICOM SEGs outside Slicer.

Run ``segexport --help`` (or ``python -m SegExportLib --help``). Optional packages are
imported only by the subcommands that need them: slicerio (``.seg.nrrd`` input),
dicomweb-client (``--stow``) and pynetdicom (``--store``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import time
from pathlib import Path

from ._version import __version__
from .errors import OutputExistsError, OutputWriteError, SegExportError
from .export import ExportSummary, export_seg
from .template import Template, from_dcmqi_metainfo
from .writer import Volume

logger = logging.getLogger("segexport")

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_OUTPUT = 4
EXIT_UPLOAD = 5

TOKEN_VARIABLE = "SEGEXPORT_TOKEN"
PASSWORD_VARIABLE = "SEGEXPORT_PASSWORD"

EPILOG = f"""\
exit codes:
  {EXIT_OK}  done
  {EXIT_INPUT}  bad input (segmentation, series, template, options): nothing was written
  {EXIT_OUTPUT}  the output could not be written (exists, or folder not writable): nothing was written
  {EXIT_UPLOAD}  the SEG was written but the upload failed: the local file is kept
  {EXIT_USAGE}  wrong command line
  {EXIT_INTERNAL}  unexpected error (a bug: please report it with the message)

credentials are never taken on the command line (other users could see them): put a bearer token in
${TOKEN_VARIABLE}, or a password for --user in ${PASSWORD_VARIABLE}.

examples:
  segexport export Segmentation.seg.nrrd --series ct/ -o seg.dcm
  segexport export labels.nii.gz --metainfo meta.json --series ct/ -o seg.dcm --compression deflate
  segexport export Segmentation.seg.nrrd --volume CT.nrrd --volume-output new-ct/ \\
      --patient-name "Doe^Jane" --patient-id RES-001 -o seg.dcm
  segexport export seg.seg.nrrd --series ct/ -o seg.dcm --stow https://pacs.example.org/dicom-web
  segexport inspect seg.dcm --series ct/ --png seg.png
  segexport upload seg.dcm --store pacs.example.org:104 --called-ae PACS
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segexport",
        description="Turn a segmentation (Slicer .seg.nrrd, or a NRRD/NIfTI labelmap) and the DICOM series it was "
        "drawn on into a standard DICOM Segmentation (SEG), check it, and send it to a PACS.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"segexport {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="say more about what is done")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only (no progress bar)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    export = commands.add_parser(
        "export",
        help="write a SEG from a segmentation and its series",
        description="Write a DICOM SEG from a segmentation and the series it was drawn on.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("segmentation", help="Slicer .seg.nrrd, or an integer labelmap (.nrrd, .nii, .nii.gz, .mha)")
    source = export.add_argument_group("source images (one of)")
    source.add_argument("--series", metavar="DIR", help="folder with the DICOM series the segmentation was drawn on")
    source.add_argument("--series-uid", metavar="UID", help="the series to use when the folder holds several")
    source.add_argument(
        "--volume",
        metavar="FILE",
        help="a reference volume that is not DICOM (.nrrd, .nii, ...): it is first written as a new DICOM series",
    )
    new_series = export.add_argument_group("new series from --volume")
    new_series.add_argument("--volume-output", metavar="DIR", help="new folder for the series written from --volume")
    new_series.add_argument("--modality", choices=["CT", "MR"], default="CT", help="modality of that series (CT)")
    new_series.add_argument("--patient-name", help='patient name, as "Family^Given" (required with --volume)')
    new_series.add_argument("--patient-id", help="patient ID (required with --volume)")
    new_series.add_argument("--birth-date", default="", help="YYYYMMDD")
    new_series.add_argument("--sex", default="", choices=["M", "F", "O", ""])
    new_series.add_argument("--study-description", default="")
    new_series.add_argument("--accession-number", default="")

    content = export.add_argument_group("segments and series")
    content.add_argument(
        "--metainfo",
        metavar="FILE",
        help="dcmqi metainfo JSON describing the segments (default: names, colours and terminology of the "
        ".seg.nrrd; for a plain labelmap, 'Segment N')",
    )
    content.add_argument("--series-description", help="SeriesDescription of the SEG")
    content.add_argument("--series-number", type=int, help="SeriesNumber of the SEG")
    content.add_argument("--uid-root", help="your organisation's UID root (ending with a dot) for new UIDs")

    writer = export.add_argument_group("writer options")
    writer.add_argument(
        "--type",
        choices=["binary", "labelmap", "fractional"],
        default="binary",
        help="BINARY (one 1-bit frame per segment and slice; read everywhere), LABELMAP (one frame per slice, "
        "segment numbers as values; newer readers only) or FRACTIONAL (the input is a float image of "
        "probabilities or occupancies in [0, 1], stored in 8 bits). Default: binary",
    )
    writer.add_argument(
        "--fractional-type",
        choices=["probability", "occupancy"],
        default="probability",
        help="what the fractions of --type fractional mean (default: probability)",
    )
    writer.add_argument(
        "--compression",
        choices=["none", "deflate", "rle"],
        default="none",
        help="none (read everywhere), deflate (whole file zlib: 100x smaller for sparse segments) or rle "
        "(LABELMAP only). Default: none",
    )
    writer.add_argument("--crop", action="store_true", help="crop frames to the box around all segments")
    writer.add_argument("--keep-empty-slices", action="store_true", help="also write frames with no voxels set")
    writer.add_argument(
        "--skip-missing-segments", action="store_true", help="leave out labels the metainfo does not describe"
    )
    writer.add_argument(
        "--no-resample",
        action="store_true",
        help="refuse a segmentation on another grid than the series instead of resampling it (nearest neighbour)",
    )
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="the SEG file to write")
    export.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    _add_upload_options(export)

    inspect = commands.add_parser(
        "inspect",
        help="describe a SEG: segments, frames, references, problems; optionally draw it",
        description="Describe a SEG's segments, frames and references, list its problems, and optionally draw "
        "the source slices with the segments overlaid (PNG).",
    )
    inspect.add_argument("seg", help="the SEG file")
    inspect.add_argument("--series", metavar="DIR", help="folder with the referenced series (checks references)")
    inspect.add_argument("--series-uid", metavar="UID", help="the series to use when the folder holds several")
    inspect.add_argument("--png", metavar="FILE", help="write an overview image (needs --series)")
    inspect.add_argument("--slices", type=int, default=6, help="slices in the overview (default 6)")
    inspect.add_argument("--overwrite", action="store_true", help="replace the PNG if it exists")

    upload = commands.add_parser(
        "upload",
        help="send a SEG file to a PACS (STOW-RS or C-STORE)",
        description="Send an existing SEG file to a PACS, e.g. after an upload failed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("seg", help="the SEG file")
    _add_upload_options(upload)
    return parser


def _add_upload_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("upload to a PACS (after the SEG is written)")
    group.add_argument("--stow", metavar="URL", help="DICOMweb service root for STOW-RS, e.g. https://host/dicom-web")
    group.add_argument("--user", help=f"user name for basic authentication (password in ${PASSWORD_VARIABLE})")
    group.add_argument("--ca-bundle", metavar="FILE", help="CA certificates to verify the server's TLS certificate")
    group.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate (test servers only)")
    group.add_argument("--store", metavar="HOST:PORT", help="DICOM C-STORE destination")
    group.add_argument("--called-ae", default="ANY-SCP", help="AE title of the PACS (default ANY-SCP)")
    group.add_argument("--calling-ae", default="SEGEXPORT", help="our AE title (default SEGEXPORT)")


class ProgressBar:
    """A one-line progress bar on stderr (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.perf_counter()

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            logger.debug("%3.0f%% %s", fraction * 100, message)
            return
        width = 30
        filled = round(fraction * width)
        seconds = time.perf_counter() - self.started
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} {message[:40]:40s} {seconds:5.1f} s"
        )
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.ERROR if arguments.quiet else logging.WARNING,
        format="segexport: %(message)s",
    )
    if arguments.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if arguments.command == "export":
            return _export(arguments, parser)
        if arguments.command == "inspect":
            return _inspect(arguments, parser)
        return _upload(arguments, parser, Path(arguments.seg))
    except (OutputExistsError, OutputWriteError) as exc:
        _error(str(exc))
        return EXIT_OUTPUT
    except SegExportError as exc:
        _error(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        _error("interrupted: nothing was written")
        return 130


def _error(message: str) -> None:
    sys.stderr.write(f"segexport: error: {message}\n")


def _say(arguments: argparse.Namespace, message: str) -> None:
    if not arguments.quiet:
        print(message)


def _export(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if bool(arguments.series) == bool(arguments.volume):
        parser.error("give the source images: either --series DIR (DICOM) or --volume FILE (not DICOM)")
    if arguments.volume and not (arguments.volume_output and arguments.patient_id and arguments.patient_name):
        parser.error("--volume needs --volume-output DIR, --patient-name and --patient-id for the new series")
    output = Path(arguments.output)
    if output.exists() and not arguments.overwrite:
        raise OutputExistsError(f"{output} exists already; choose another name or pass --overwrite")
    _check_upload_options(arguments, parser)
    progress = ProgressBar(not arguments.quiet)
    layers, template = _load_segmentation(arguments)
    if arguments.volume:
        source_files = _write_reference_series(arguments, template)
    else:
        from .series_folder import pick_series

        progress(0.02, "Finding the source series")
        found = pick_series(arguments.series, arguments.series_uid)
        source_files = found.files
    if arguments.type == "fractional":
        return _export_fractional(arguments, parser, layers, template, source_files, output)
    summary: ExportSummary = export_seg(
        layers[0] if len(layers) == 1 else layers,
        template,
        source_files,
        output,
        overwrite=arguments.overwrite,
        inplane_cropping=arguments.crop,
        skip_empty_slices=not arguments.keep_empty_slices,
        skip_missing_segment=arguments.skip_missing_segments,
        uid_root=arguments.uid_root,
        compression=None if arguments.compression == "none" else arguments.compression,
        segmentation_type=arguments.type.upper(),
        progress=progress,
        resample=not arguments.no_resample,
    )
    _say(arguments, f"wrote {summary.describe()}")
    if summary.report.absent_segments:
        _say(arguments, f"note: segments with no voxels were not written: labels {summary.report.absent_segments}")
    return _upload(arguments, parser, summary.path)


def _export_fractional(
    arguments: argparse.Namespace,
    parser: argparse.ArgumentParser,
    layers: list[Volume],
    template: Template,
    source_files: list[Path],
    output: Path,
) -> int:
    from .export import read_source_headers
    from .fileio import write_file
    from .writer import FractionalWriter

    started = time.perf_counter()
    writer = FractionalWriter(
        template,
        inplane_cropping=arguments.crop,
        skip_empty_slices=not arguments.keep_empty_slices,
        skip_missing_segment=arguments.skip_missing_segments,
        uid_root=arguments.uid_root,
        compression=None if arguments.compression == "none" else arguments.compression,
    )
    encoded = writer.encode(layers[0], read_source_headers(source_files), arguments.fractional_type.upper())
    path = write_file(encoded, output, overwrite=arguments.overwrite)
    report = writer.last_report
    frames = report.frame_count if report else int(encoded.dataset.NumberOfFrames)
    segment_count = len(encoded.dataset.SegmentSequence)
    _say(
        arguments,
        f"wrote {path.name}: FRACTIONAL ({arguments.fractional_type}), {segment_count} segments in "
        f"{frames} frames, {path.stat().st_size / 1024:.0f} KiB, {time.perf_counter() - started:.1f} s",
    )
    return _upload(arguments, parser, path)


def _load_segmentation(arguments: argparse.Namespace) -> tuple[list[Volume], Template]:
    path = Path(arguments.segmentation)
    if not path.is_file():
        raise SegExportError(f"{path} does not exist or is not a file")
    if path.name.lower().endswith(".seg.nrrd"):
        if arguments.type == "fractional":
            raise SegExportError("a .seg.nrrd holds labels, not fractions: use --type binary or labelmap with it")
        from .segnrrd import read_seg_nrrd

        loaded = read_seg_nrrd(path)
        layers, template = loaded.layers, loaded.template
        if arguments.metainfo:
            template = _metainfo_for_segments(from_dcmqi_metainfo(arguments.metainfo), loaded)
    else:
        from .volume import read_image

        try:
            image = read_image(path)
        except RuntimeError as exc:
            raise SegExportError(f"cannot read {path} as an image: {str(exc).strip().splitlines()[-1]}") from None
        layers = [image]
        if arguments.metainfo:
            template = from_dcmqi_metainfo(arguments.metainfo)
        else:
            template = _fraction_template() if arguments.type == "fractional" else _default_template(image)
    series_fields = {
        key: value
        for key, value in (
            ("series_description", arguments.series_description),
            ("series_number", arguments.series_number),
        )
        if value is not None
    }
    return layers, dataclasses.replace(template, **series_fields)


def _fraction_template() -> Template:
    from .template import SegmentDescription

    logger.warning("no --metainfo: the fractions are described as 'Segment 1' with generic codes (Tissue)")
    return Template([SegmentDescription(1, label="Segment 1", algorithm_type="AUTOMATIC", algorithm_name="unknown")])


def _default_template(image: Volume) -> Template:
    import numpy as np

    from .template import SegmentDescription
    from .volume import array_of

    values = array_of(image)
    if values.dtype.kind not in "iub":
        raise SegExportError(f"the labelmap has voxels of type {values.dtype}; labels must be integers")
    labels = [int(v) for v in np.unique(values) if v > 0]
    logger.warning(
        "no --metainfo: the %d labels are described as 'Segment N' with generic codes (Tissue); "
        "give a dcmqi metainfo file for real names and codes",
        len(labels),
    )
    return Template([SegmentDescription(label, label=f"Segment {label}", algorithm_type="MANUAL") for label in labels])


def _metainfo_for_segments(template: Template, loaded: object) -> Template:
    """The metainfo's descriptions, matched to the .seg.nrrd segments by SegmentLabel = segment name."""
    from .segments import match_template

    covered, missing = match_template(template, loaded.segments)  # type: ignore[attr-defined]
    if missing:
        raise SegExportError(
            f"the metainfo does not describe segments {missing} (matched by SegmentLabel = segment name); "
            "add them, or leave out --metainfo to use the .seg.nrrd's own names and terminology"
        )
    descriptions = []
    for info in loaded.segments:  # type: ignore[attr-defined]
        description = dataclasses.replace(covered[info.segment_id], layer=info.layer, label_id=info.label_value)
        descriptions.append(description)
    return dataclasses.replace(template, segments=descriptions)


def _write_reference_series(arguments: argparse.Namespace, template: Template) -> list[Path]:
    from .volume_series import PatientInfo, StudyInfo, write_volume_series

    try:
        import SimpleITK as sitk

        volume = sitk.ReadImage(arguments.volume)
    except RuntimeError as exc:
        raise SegExportError(f"cannot read {arguments.volume}: {str(exc).strip().splitlines()[-1]}") from None
    files = write_volume_series(
        volume,
        arguments.volume_output,
        PatientInfo(arguments.patient_name, arguments.patient_id, arguments.birth_date, arguments.sex),
        StudyInfo(description=arguments.study_description, accession_number=arguments.accession_number),
        modality=arguments.modality,
        uid_root=arguments.uid_root,
    )
    _say(
        arguments,
        f"wrote the reference volume as a new {arguments.modality} series: {len(files)} files in "
        f"{arguments.volume_output}",
    )
    return files


def _check_upload_options(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if arguments.store and (":" not in arguments.store or not arguments.store.rsplit(":", 1)[1].isdigit()):
        parser.error(f"--store needs HOST:PORT, got {arguments.store!r}")
    if arguments.insecure and arguments.ca_bundle:
        parser.error("--insecure and --ca-bundle contradict each other")
    if arguments.user and not os.environ.get(PASSWORD_VARIABLE):
        parser.error(f"--user needs the password in the environment variable {PASSWORD_VARIABLE}")


def _upload(arguments: argparse.Namespace, parser: argparse.ArgumentParser, path: Path) -> int:
    if arguments.command == "upload":
        _check_upload_options(arguments, parser)
        if not (arguments.stow or arguments.store):
            parser.error("say where to send the SEG: --stow URL and/or --store HOST:PORT")
        if not path.is_file():
            raise SegExportError(f"{path} does not exist or is not a file")
    from .upload import UploadError, c_store, stow_rs

    failed = False
    if arguments.stow:
        try:
            result = stow_rs(
                path,
                arguments.stow,
                token=os.environ.get(TOKEN_VARIABLE) or None,
                username=arguments.user,
                password=os.environ.get(PASSWORD_VARIABLE) if arguments.user else None,
                verify=False if arguments.insecure else (arguments.ca_bundle or True),
            )
            _say(arguments, f"{result.destination}: {result.detail}")
        except UploadError as exc:
            _error(f"{exc}; the SEG is kept at {path}")
            failed = True
    if arguments.store:
        host, port = arguments.store.rsplit(":", 1)
        try:
            result = c_store(path, host, int(port), called_ae=arguments.called_ae, calling_ae=arguments.calling_ae)
            _say(arguments, f"{result.destination}: {result.detail}")
        except UploadError as exc:
            _error(f"{exc}; the SEG is kept at {path}")
            failed = True
    return EXIT_UPLOAD if failed else EXIT_OK


def _inspect(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .overview import inspect_seg, render_overview

    if arguments.png and not arguments.series:
        parser.error("--png needs --series DIR: the overview draws the segments on the source slices")
    files = None
    if arguments.series:
        from .series_folder import pick_series

        files = pick_series(arguments.series, arguments.series_uid).files
    inspection = inspect_seg(arguments.seg, files)
    print(inspection.text())
    if arguments.png:
        tiles = render_overview(arguments.seg, files or [], arguments.png, arguments.slices, arguments.overwrite)
        _say(arguments, f"overview of {len(tiles)} slices written to {arguments.png}")
    return EXIT_INPUT if inspection.problems else EXIT_OK


def _interrupt(signal_number: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: partial outputs are removed on the way out


def run() -> None:
    """Entry point of the ``segexport`` script."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so plainly, with what to report
        logger.debug("unexpected error", exc_info=True)
        _error(f"unexpected {type(exc).__name__}: {exc} (please report this, with --verbose output)")
        sys.exit(EXIT_INTERNAL)
