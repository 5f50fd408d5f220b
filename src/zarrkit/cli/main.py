"""Argument parsing and the exit code contract of the ``zarrkit`` command."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from . import commands
from .options import UsageError
from .stores import CommandError, describe

_EPILOG = """\
exit codes: 0 success; 1 verify found problems; 2 bad input or an error that stopped the
command (one line on stderr naming the path; --debug shows the traceback).

PATH is a directory store (data.zarr), a Zip archive (data.zip), an N5 container (data.n5)
or a URL (s3://bucket/data.zarr, gs://..., file://..., memory://...). A path inside a Zip
archive or N5 container follows it: data.zip/group/array.
"""


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument(
        "-S",
        "--storage-option",
        action="append",
        metavar="KEY=VALUE",
        help="file system option for URLs (repeatable); VALUE is JSON or a string, dotted "
        "keys nest: -S anon=true, -S client_kwargs.endpoint_url=http://localhost:9000",
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress display or summary")
    g.add_argument("--debug", action="store_true", help="show the traceback of errors")
    return common


def _scheduler_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the chunk work on this Dask cluster (e.g. tcp://10.0.0.5:8786; needs "
        "dask.distributed, and stores every worker reaches: shared folders, URLs)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``zarrkit`` and its commands."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="zarrkit",
        description="Inspect, check, copy, rechunk and convert Zarr v2 and v3 (and N5) data.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"zarrkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str, description: str = "") -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help,
            description=description or help,
            parents=[common],
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=getattr(commands, name))
        return p

    p = command("info", "print what Array.info / Group.info print")
    p.add_argument("path", metavar="PATH")

    p = command("tree", "print the hierarchy as a tree, as Group.tree() does")
    p.add_argument("path", metavar="PATH")
    p.add_argument("-L", "--level", type=int, default=None, help="descend at most LEVEL levels")

    p = command("ls", "list the members of a group (h5ls style)")
    p.add_argument("path", metavar="PATH")
    p.add_argument("-r", "--recursive", action="store_true", help="list every level")

    p = command(
        "cat",
        "write a selection of an array as CSV or .npy",
        "Write a selection of an array as CSV (0- to 2-d) or in NumPy's .npy format.\n"
        "The selection follows the path in brackets, as in Python: 'data.zarr/a[0:10, ::2]'\n"
        "(quote it for the shell); without one the whole array is written.",
    )
    p.add_argument("path", metavar="PATH[SELECTION]")
    p.add_argument("-f", "--format", choices=("csv", "npy"), default="csv")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    p = command(
        "verify",
        "decode every chunk and report what is wrong",
        "Read and decode every chunk of every array (in parallel, in batches of bounded\n"
        "size) and report per array: missing chunks, corrupt chunks (decode error or wrong\n"
        "decoded size, with the key), stray keys that belong to no array or group,\n"
        "leftover temporary files of interrupted writes, and consolidated metadata\n"
        "(.zmetadata) that disagrees with the metadata of the arrays and groups.\n"
        "Zarr v3 too: for a sharded array every inner chunk of every shard is decoded and\n"
        "problems are named by shard key and inner chunk coordinates.\n\n"
        "Missing chunks are legal in Zarr (they read as the fill value, and arrays written\n"
        "with write_empty_chunks=False leave them out on purpose), so they are reported\n"
        "but do not fail verify unless --missing-is-error is given. To notice chunks that\n"
        "go missing later, write a checksum manifest now (--write-checksums) and check\n"
        "against it later (--check-checksums): a key that disappeared then fails verify.\n"
        "Exit code 1 when anything is wrong (with a summary line), 0 otherwise.",
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument(
        "--missing-is-error", action="store_true", help="missing chunks fail verify (exit 1)"
    )
    p.add_argument(
        "--write-checksums",
        metavar="FILE",
        help="write a SHA-256 manifest of every key (sha256sum format, keys relative to PATH)",
    )
    p.add_argument(
        "--check-checksums",
        metavar="FILE",
        help="compare every key with a manifest: changed, vanished and new keys are problems",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--max-mem",
        default="256MB",
        metavar="SIZE",
        help="memory for one batch of chunks being decoded (default 256MB)",
    )
    _scheduler_option(p)

    p = command(
        "copy",
        "copy every key of a hierarchy to another store (bytes, not re-encoded)",
        "Copy the keys of SRC to DST as stored bytes (no decoding), in batches of bounded\n"
        "size. DST may be another kind of store (directory, Zip, URL); between N5 and Zarr\n"
        "use rechunk, which re-encodes.",
    )
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", metavar="DST")
    p.add_argument(
        "--if-exists",
        choices=("raise", "replace", "skip"),
        default="raise",
        help="a key that exists in DST: refuse the copy before writing anything (raise, "
        "the default), overwrite it (replace) or keep it (skip)",
    )
    p.add_argument("-n", "--dry-run", action="store_true", help="print what would be copied")
    p.add_argument("-v", "--verbose", action="store_true", help="print one line per key")
    _scheduler_option(p)

    p = command(
        "consolidate",
        "write consolidated metadata (.zmetadata; for Zarr v3 inside the group's zarr.json)",
        "Gather the metadata of every array and group into .zmetadata, which lets readers\n"
        "(zarrkit.open_consolidated, xarray) get them with one read. For a Zarr v3 group\n"
        "they go into the group's own zarr.json (consolidated_metadata), as zarr-python 3\n"
        "writes them.",
    )
    p.add_argument("path", metavar="PATH")

    p = command(
        "rechunk",
        "copy arrays to new chunk shapes within a memory limit",
        "Copy the array (or every array of the group) at SRC to DST with new chunks,\n"
        "reading whole source chunks and writing whole target chunks through the codecs,\n"
        "never holding more than --max-mem of array data (an intermediate store on disk\n"
        "is used when the two chunk grids cannot be matched within the limit).",
    )
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", metavar="DST")
    p.add_argument(
        "--chunks",
        required=True,
        action="append",
        metavar="[ARRAY=]SHAPE",
        help="target chunk shape, e.g. 1000,1000; -1 (or nothing) is the whole axis: "
        "--chunks=-1,100 or --chunks ,100. For a group, one SHAPE applies to every array; "
        "ARRAY=SHAPE (repeatable) names arrays by path, and the others keep their chunks",
    )
    p.add_argument("--max-mem", default="512MB", metavar="SIZE", help="memory limit (512MB)")
    p.add_argument("--temp", metavar="DIR", help="where the intermediate store goes")
    p.add_argument("--overwrite", action="store_true", help="replace what is at DST")
    _scheduler_option(p)

    p = command(
        "convert",
        "convert a hierarchy between Zarr v2 and v3 (optionally sharded and rechunked)",
        "Convert the groups, arrays and attributes at SRC to Zarr format --zarr-format in\n"
        "DST. Chunks whose encoding stays the same are copied as stored bytes to the new\n"
        "keys (0.0 -> c/0/0); new chunks, shards or unsharding re-encode through the arrays\n"
        "within --max-mem. Consolidated metadata in SRC is written again in DST. The\n"
        "result is compared with SRC before its metadata are written (--no-verify skips\n"
        "that). DST may be SRC itself between v2 and v3 (the old keys are deleted at the\n"
        "end). Exit code 1 when the comparison finds a difference.",
    )
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", metavar="DST")
    p.add_argument(
        "--zarr-format", type=int, choices=(2, 3), default=3, help="the format of DST (3)"
    )
    p.add_argument(
        "--shards",
        action="append",
        metavar="[ARRAY=]SHAPE",
        help="Zarr v3 shard shape, a multiple of the chunks, e.g. 1000,1000 (-1: the whole "
        "axis); one SHAPE applies to every array with that many dimensions, ARRAY=SHAPE "
        "(repeatable) names arrays; auto (or ARRAY=auto): whole chunks up to 64 MiB "
        "uncompressed per shard",
    )
    p.add_argument(
        "--chunks",
        action="append",
        metavar="[ARRAY=]SHAPE",
        help="new chunk shape (inside a shard), given as --shards; others keep their chunks",
    )
    p.add_argument("--max-mem", default="256MB", metavar="SIZE", help="memory limit (256MB)")
    p.add_argument("--no-verify", action="store_true", help="do not compare DST with SRC")
    p.add_argument("--temp", metavar="DIR", help="where intermediate stores of rechunking go")
    p.add_argument("--overwrite", action="store_true", help="replace what is at DST")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _scheduler_option(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `zarrkit cat ... | head`: the reader has what it wants
        # Python would report the pipe again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return commands.OK
    except Exception as e:
        if args.debug:
            traceback.print_exc()
        if isinstance(e, CommandError):
            message = str(e)
        elif isinstance(e, UsageError):
            message = describe(e)
        else:
            where = getattr(args, "path", None) or getattr(args, "source", "")
            message = f"{where}: {describe(e)}"
        print(f"zarrkit {args.command}: error: {message}", file=sys.stderr)
        return commands.BAD_INPUT
