<?php
/*
 * Runs one of the ticket edit handlers of ITFlow's own agent ticket page
 * (agent/post/ticket.php: edit_ticket, edit_ticket_priority, edit_ticket_contact,
 * edit_ticket_vendor, edit_ticket_asset, edit_ticket_billable_status) with php-cli, as a
 * signed-in agent's form post would: the agent's session and CSRF token are set instead of by
 * a login (page_session.php). Prints the instant the database clock was held at before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_edit.php HANDLER 'JSON OF THE FORM FIELDS'
 *
 * Used by record_ticket_edit.py.
 */

require __DIR__ . '/page_session.php';  // $root, $mysqli, functions.php, the agent's session
$handler_name = $argv[1];
$form = json_decode($argv[2], true);

$_SERVER['REQUEST_METHOD'] = 'POST';
$_SERVER['HTTP_REFERER'] = 'ticket.php';

$instant = hold_recording_clock($mysqli);  // page_session.php: the clock held, the instant printed

$_POST = array_merge([$handler_name => 1, 'csrf_token' => 'recording-token'], $form);

define('FROM_POST_HANDLER', true);
require "$root/agent/post/ticket.php";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
