from __future__ import annotations

import click

from edgepack.cli import emit_json, json_option


@click.command()
@click.argument("folder", type=click.Path())
@click.option("--force", is_flag=True, help="Replace an existing edgepack.toml.")
@json_option
def init(folder, force, as_json):
    """Write FOLDER/edgepack.toml inferred from a Hugging Face folder, with comments, to edit.

    Name, task, labels (id2label), pooling, max length and inputs are read from config.json,
    modules.json, 1_Pooling/config.json, sentence_bert_config.json and tokenizer_config.json; each
    key's source is printed and written as a comment. `edgepack build FOLDER` infers the same project
    without this file (outputs then go to FOLDER-edgepack/); with it, to FOLDER/build and FOLDER/dist.

    \b
    Example:
      edgepack init models/my-roberta           # writes models/my-roberta/edgepack.toml
      edgepack init models/my-roberta --force   # replaces it
    """
    from edgepack.hf_infer import describe, init_project

    path, inferred = init_project(folder, force=force)
    if as_json:
        emit_json({"ok": True, "path": str(path), "config": inferred.config, "sources": inferred.sources})
        return
    click.echo(describe(inferred, outputs=False), err=True)
    click.echo(f"wrote {path}")
