<?php
/*
 * Runs the edit of ITFlow's agent client page (agent/post/client.php edit_client), contact
 * page (agent/post/contact.php edit_contact) or asset page (agent/post/asset.php edit_asset)
 * with php-cli, as the signed-in agent's edit form
 * would post it, tags included: the session, the CSRF
 * token and the held clock come from page_session.php. Prints the instant the database
 * clock was held at.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_tags.php edit_client|edit_contact|edit_asset 'FORM JSON'
 *
 * Used by record_tags.py.
 */

require __DIR__ . '/page_session.php';

$action = $argv[1];
$fields = json_decode($argv[2] ?? '{}', true);
$handlers = ['edit_client' => ['client.php', 'clients.php'], 'edit_contact' => ['contact.php', 'contacts.php'],
             'edit_asset' => ['asset.php', 'assets.php']];
if (!isset($handlers[$action]) || !is_array($fields)) {
    fwrite(STDERR, "unknown action $action or fields not a JSON object\n");
    exit(2);
}
$_SERVER['REQUEST_METHOD'] = 'POST';
[$file, $_SERVER['HTTP_REFERER']] = $handlers[$action];

hold_recording_clock($mysqli);

$_POST = array_merge($fields, [$action => 1, 'csrf_token' => 'recording-token']);

define('FROM_POST_HANDLER', true);
chdir("$root/agent/post");  // the handler requires its model by a relative path
require "$root/agent/post/$file";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
