<?php
/*
 * Runs one action of ITFlow's own agent pages on folders, documents and ticket replies with
 * php-cli, as a signed-in agent would trigger it: the agent's session variables and CSRF
 * token are set (page_session.php) instead of by a login. Used by record_documents_time.py; prints the
 * instant the database clock was held at (every NOW() of the action) before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_documents.php ACTION 'JSON fields'
 *
 * ACTION and the fields the page's form (or link) sends:
 *   rename_folder         {"folder_id": 1, "folder_name": "New name"}      agent/post/folder.php
 *   move_document         {"document_id": 1, "folder": 2}                   agent/post/document.php
 *   edit_ticket_reply     {"ticket_reply_id": 1, "ticket_reply": "...",
 *                          "ticket_reply_type": "Internal", "time": "01:30:00"}  agent/post/ticket.php
 *   archive_ticket_reply  {"ticket_reply_id": 1}                            agent/post/ticket.php (a GET link)
 *   link_file_to_document {"document_id": 1, "file_id": 2}                  agent/post/document.php
 *   unlink_file_from_document {"document_id": 1, "file_id": 2}              agent/post/document.php (a GET link)
 */

require __DIR__ . '/page_session.php';  // $root, $mysqli, functions.php, the agent's session
$action = $argv[1];
$fields = json_decode($argv[2] ?? '{}', true);

$_SERVER['HTTP_REFERER'] = 'document.php';

$handlers = [
    'rename_folder' => ['POST', 'folder.php'],
    'move_document' => ['POST', 'document.php'],
    'edit_ticket_reply' => ['POST', 'ticket.php'],
    'archive_ticket_reply' => ['GET', 'ticket.php'],
    'link_file_to_document' => ['POST', 'document.php'],
    'unlink_file_from_document' => ['GET', 'document.php'],
];
if (!isset($handlers[$action]) || !is_array($fields)) {
    fwrite(STDERR, "unknown action $action or fields not a JSON object\n");
    exit(2);
}
[$method, $file] = $handlers[$action];
$_SERVER['REQUEST_METHOD'] = $method;

$instant = hold_recording_clock($mysqli);  // page_session.php: the clock held, the instant printed

if ($method === 'GET') {
    // The page's link carries the id as the action's own parameter (the reply's), or the
    // action's name with the ids as parameters of their own (unlinking a file).
    $_GET = array_merge($fields, [$action => $fields['ticket_reply_id'] ?? 1, 'csrf_token' => 'recording-token']);
} else {
    $_POST = array_merge($fields, [$action => 1, 'csrf_token' => 'recording-token']);
}

define('FROM_POST_HANDLER', true);
require "$root/agent/post/$file";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
