<?php
/*
 * Runs the scheduling handlers of ITFlow's own agent ticket page (agent/post/ticket.php:
 * edit_ticket_schedule, the schedule form's post, and cancel_ticket_schedule, its cancel
 * link) with php-cli, as a signed-in agent would: the agent's session and CSRF token are set
 * instead of by a login (page_session.php). Prints the instant the database clock was held at
 * before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_schedule.php edit_ticket_schedule 'JSON OF THE FORM'
 *   ... php page_action_schedule.php cancel_ticket_schedule TICKET_ID
 *
 * Used by record_ticket_schedule.py. The handlers build their calendar invitation with a
 * library they load by a path relative to agent/, so the run starts there.
 */

require __DIR__ . '/page_session.php';  // $root, $mysqli, functions.php, the agent's session
$handler_name = $argv[1];
$_SERVER['HTTP_REFERER'] = 'ticket.php';
$_SERVER['SERVER_NAME'] = 'itflow.recording';

chdir("$root/agent");

$instant = hold_recording_clock($mysqli);  // page_session.php: the clock held, the instant printed

if ($handler_name === 'edit_ticket_schedule') {
    $_SERVER['REQUEST_METHOD'] = 'POST';
    $_POST = array_merge(['edit_ticket_schedule' => 1, 'csrf_token' => 'recording-token'], json_decode($argv[2], true));
} elseif ($handler_name === 'cancel_ticket_schedule') {
    $_SERVER['REQUEST_METHOD'] = 'GET';
    $_GET = ['cancel_ticket_schedule' => intval($argv[2]), 'csrf_token' => 'recording-token'];
} else {
    fwrite(STDERR, "unknown handler $handler_name\n");
    exit(2);
}

define('FROM_POST_HANDLER', true);
require "$root/agent/post/ticket.php";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
