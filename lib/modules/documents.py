"""documents: rich-text documentation. Updates keep the previous version in document_versions.

ITFlow also moves base64-embedded images into files under uploads/; this server stores the
HTML exactly as given.

move.php files a document in a folder as ITFlow's document page moves one (move_document);
link_file.php and unlink_file.php link a file of the client to a document or remove the link
(link_file_to_document, unlink_file_from_document; metadata only, no upload).
"""
from ..core.crud import RecordOperation, require_table
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused
from ..core.values import now
from ..itflow.php_text import clean
from .files import FILE_WHAT, LINK_WHAT


def searchable_text(*parts):
    """document_content_raw: the cleaned text, with a space put before every '<' of the
    content first so that words in adjacent tags stay apart."""
    *head, content = parts
    return clean("".join(head) + content.replace("<", " <"))


class DocumentHooks(Hooks):
    def before_create(self, call, module, values, client=None):
        # On create ITFlow builds it from the fields as sent, before they are cleaned.
        sent = {name: str(call.params.get(name) or "") for name in ("document_name", "document_description")}
        values["document_content_raw"] = searchable_text(
            sent["document_name"], sent["document_description"], " ", values["document_content"])
        values["document_created_by"] = call.key.user_id or 0
        # ITFlow writes the content in a second statement, which stamps document_updated_at.
        values["document_updated_at"] = now()

    def before_update(self, call, module, current, values):
        call.db.insert("document_versions", {
            "document_version_name": current["document_name"],
            "document_version_description": current["document_description"],
            "document_version_content": current["document_content"],
            "document_version_created_by": call.key.user_id or 0,
            "document_version_created_at": now(),
            "document_version_document_id": int(current["document_id"]),
        })
        merged = {**current, **values}
        values["document_content_raw"] = searchable_text(merged["document_name"], " ", merged["document_content"])
        values["document_updated_by"] = call.key.user_id or 0

    def before_delete(self, call, module, current):
        call.db.delete("document_versions", {"document_version_document_id": int(current["document_id"])})
        if call.db.columns_of("document_files"):
            # What the foreign key's ON DELETE CASCADE does on ITFlow's own database (a
            # database this server made has no foreign keys): the document's file links go too.
            call.db.delete("document_files", {"document_id": int(current["document_id"])})


MODULE = Module(
    name="documents", table="documents", id_column="document_id", client_column="document_client_id",
    entity="Document", name_column="document_name", archived_column="document_archived_at",
    client_optional=True, hooks=DocumentHooks(),
    update_counts_found=True,  # ITFlow's document update answers 1 whether or not anything changed
    # documents/update.php:101-113, model documents/document_model.php
    update_model=("document_name", "document_description", "document_content", "document_content_raw",
                  "document_folder_id", "document_updated_by"),
    description="Documentation pages; an update saves the previous version in document_versions.",
    fields=table_fields("documents", "document_client_id", skip=(
        "document_content_raw", "document_created_by", "document_updated_by"), overrides={
        "document_name": {"required": True},
        "document_content": {"kind": "html", "required": True, "description": "HTML, stored as given"},
    }),
    lookups=[Lookup("document_id", "int", single=True)],
)


class Move(RecordOperation):
    """move.php: `document_id` into the folder `folder_id` (0: the top level), as ITFlow's
    document page moves one (agent/post/document.php move_document): only the folder changes,
    and document_updated_at is kept (a move is no edit; no version is saved). Unlike the page,
    a folder that does not exist or belongs to another client is refused."""
    verb, action, past = "Move", "Move", "Moved"
    body_fields = (Field("folder_id", "int", required=True,
                         description="the folder of the document's client to file it in (0: the top level)"),)

    def apply(self, call, record_id, current):
        if not call.params.has("folder_id") or call.params.get("folder_id") == "":
            raise Refused("Missing required field: folder_id (0 files the document at the top level).")
        folder_id = self.body_fields[0].parse(call.params.get("folder_id"))
        client_id = int(current["document_client_id"] or 0)
        name = ""
        if folder_id:
            folder = call.db.row("SELECT folder_name, folder_client_id FROM folders WHERE folder_id = :folder",
                                 {"folder": folder_id})
            if folder is None or int(folder["folder_client_id"] or 0) != client_id:
                raise Refused(f"No folder with folder_id {folder_id} for client {client_id}, the document's client "
                              "(nothing was changed).")
            name = folder["folder_name"]
        # The page sets document_updated_at to itself, which MariaDB's ON UPDATE then leaves
        # alone. SQLite's stand-in trigger cannot tell that apart from an update that leaves
        # the column out, so the stored value is written back in a second statement (on both
        # backends: an explicit value is kept by either).
        count = call.db.update("documents", {"document_folder_id": folder_id}, {"document_id": record_id})
        call.db.update("documents", {"document_updated_at": current["document_updated_at"]},
                       {"document_id": record_id})
        return count, {"folder_name": name}

    def describe(self, current, values):
        text = f"Moved document {current['document_name']} to folder {values['folder_name']}".rstrip()
        return text, text


class FileLink(RecordOperation):
    """link_file.php / unlink_file.php: link the file `file_id` of the document's client to the
    document `document_id`, or remove that link, as ITFlow's document page does
    (agent/post/document.php link_file_to_document, unlink_file_from_document): a document_files
    row inserted or deleted, and a Document / Link or Unlink logs row for the document. Nothing
    of the document or the file changes. Unlike the page, a file of another client (or none) is
    refused, and so is linking a file already linked."""
    body_fields = (Field("file_id", "int", required=True, description="a file of the document's client"),)

    def __init__(self, module, link=True):
        super().__init__(module)
        self.link = link
        self.verb = self.action = "Link" if link else "Unlink"
        self.past = "linked" if link else "unlinked"

    def check_state(self, call, record_id, current):
        require_table(call, "files", FILE_WHAT)
        require_table(call, "document_files", LINK_WHAT)

    def apply(self, call, record_id, current):
        if not call.params.has("file_id") or call.params.get("file_id") == "":
            raise Refused("Missing required field: file_id.")
        file_id = self.body_fields[0].parse(call.params.get("file_id"))
        client_id = int(current["document_client_id"] or 0)
        found = call.db.row("SELECT file_name, file_client_id FROM files WHERE file_id = :file", {"file": file_id})
        if found is None or int(found["file_client_id"] or 0) != client_id:
            raise Refused(f"No file with file_id {file_id} for client {client_id}, the document's client "
                          "(nothing was changed).")
        link = {"document_id": record_id, "file_id": file_id}
        linked = call.db.row("SELECT file_id FROM document_files WHERE document_id = :document_id "
                             "AND file_id = :file_id", link) is not None
        if self.link:
            if linked:
                raise Refused(f"File {file_id} is already linked to document {record_id} (nothing was changed).")
            call.db.insert("document_files", link)
            count = 1
        else:
            # Removing a link that is not there changes nothing; the page logs it all the same.
            count = call.db.delete("document_files", link)
        return count, {"file_name": found["file_name"]}

    def describe(self, current, values):
        if self.link:
            text = f"Linked file {values['file_name']} to document {current['document_name']}"
        else:
            text = f"Unlinked file {values['file_name']} from document {current['document_name']}"
        return text, text
