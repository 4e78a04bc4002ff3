<?php
/*
 * Runs one of the ticket edit handlers of ITFlow's own agent ticket page
 * (agent/post/ticket.php: edit_ticket, edit_ticket_priority, edit_ticket_contact,
 * edit_ticket_vendor, edit_ticket_asset, edit_ticket_billable_status) with php-cli, as a
 * signed-in agent's form post would: the agent's session and CSRF token are set here instead
 * of by a login. Prints the instant the database clock was held at before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_edit.php HANDLER 'JSON OF THE FORM FIELDS'
 *
 * Used by record_ticket_edit.py.
 */

$root = getenv('ITFLOW_ROOT');
$handler_name = $argv[1];
$form = json_decode($argv[2], true);

$mysqli = mysqli_connect('127.0.0.1', 'root', '', getenv('ITFLOW_DB'));
date_default_timezone_set('UTC');
mysqli_query($mysqli, "SET time_zone = '+00:00'");

require_once "$root/functions.php";

// What includes/load_user_session.php sets for the signed-in agent (user 1, an admin).
$_SESSION = ['logged' => true, 'user_id' => 1, 'csrf_token' => 'recording-token'];
$session_user_id = 1;
$session_name = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT user_name FROM users WHERE user_id = 1"))['user_name'];
$session_is_admin = true;
$session_ip = '127.0.0.1';
$session_user_agent = 'page-recording';
$session_company_name = 'Recording Co';
$_SERVER['REQUEST_METHOD'] = 'POST';
$_SERVER['HTTP_USER_AGENT'] = $session_user_agent;
$_SERVER['HTTP_REFERER'] = 'ticket.php';

// Start on a fresh second and hold the database clock there, so that PHP's date() and
// MySQL's NOW() name the same instant for the whole action.
time_sleep_until(floor(microtime(true)) + 1.02);
$instant = time();
mysqli_query($mysqli, "SET timestamp = $instant");
echo date('Y-m-d H:i:s', $instant), "\n";

$_POST = array_merge([$handler_name => 1, 'csrf_token' => 'recording-token'], $form);

define('FROM_POST_HANDLER', true);
require "$root/agent/post/ticket.php";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
