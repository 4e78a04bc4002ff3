<?php
/*
 * Runs one action of ITFlow's own agent recurring ticket and recurring invoice pages with
 * php-cli, as a signed-in agent would trigger it: the agent's session variables and CSRF
 * token are set here instead of by a login. Used by record_recurring.py; prints the instant
 * the database clock was held at (every NOW() of the action) before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_recurring.php ACTION 'JSON fields'
 *
 * ACTION and the fields the page's form (or link) sends:
 *   add_recurring_ticket, edit_recurring_ticket     the modal's form     agent/post/recurring_ticket.php
 *   delete_recurring_ticket {"id": 1}                a GET link           agent/post/recurring_ticket.php
 *   add_recurring_invoice, edit_recurring_invoice,
 *   add_recurring_invoice_item, edit_recurring_invoice_item
 *                                                    the modal's form     agent/post/recurring_invoice.php
 *   delete_recurring_invoice, delete_recurring_invoice_item {"id": 1}
 *                                                    a GET link           agent/post/recurring_invoice.php
 */

$root = getenv('ITFLOW_ROOT');
$action = $argv[1];
$fields = json_decode($argv[2] ?? '{}', true);

$mysqli = mysqli_connect('127.0.0.1', 'root', '', getenv('ITFLOW_DB'));
date_default_timezone_set('UTC');
mysqli_query($mysqli, "SET time_zone = '+00:00'");

require_once "$root/functions.php";

// What includes/load_user_session.php and load_company_settings.php set for the signed-in
// agent (user 1, an admin) of a company in USD.
$_SESSION = ['logged' => true, 'user_id' => 1, 'csrf_token' => 'recording-token'];
$session_user_id = 1;
$session_name = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT user_name FROM users WHERE user_id = 1"))['user_name'];
$session_is_admin = true;
$session_ip = '127.0.0.1';
$session_user_agent = 'page-recording';
$session_company_name = 'Recording Co';
$session_company_currency = 'USD';
$settings = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT config_recurring_invoice_prefix FROM settings WHERE company_id = 1"));
$config_recurring_invoice_prefix = $settings['config_recurring_invoice_prefix'];
$_SERVER['HTTP_USER_AGENT'] = $session_user_agent;
$_SERVER['HTTP_REFERER'] = 'recurring_tickets.php';

$handlers = [
    'add_recurring_ticket' => ['POST', 'recurring_ticket.php'],
    'edit_recurring_ticket' => ['POST', 'recurring_ticket.php'],
    'delete_recurring_ticket' => ['GET', 'recurring_ticket.php'],
    'add_recurring_invoice' => ['POST', 'recurring_invoice.php'],
    'edit_recurring_invoice' => ['POST', 'recurring_invoice.php'],
    'delete_recurring_invoice' => ['GET', 'recurring_invoice.php'],
    'add_recurring_invoice_item' => ['POST', 'recurring_invoice.php'],
    'edit_recurring_invoice_item' => ['POST', 'recurring_invoice.php'],
    'delete_recurring_invoice_item' => ['GET', 'recurring_invoice.php'],
];
if (!isset($handlers[$action]) || !is_array($fields)) {
    fwrite(STDERR, "unknown action $action or fields not a JSON object\n");
    exit(2);
}
[$method, $file] = $handlers[$action];
$_SERVER['REQUEST_METHOD'] = $method;

// Start on a fresh second and hold the database clock there, so that PHP's date() and
// MySQL's NOW() name the same instant for the whole action.
time_sleep_until(floor(microtime(true)) + 1.02);
$instant = time();
mysqli_query($mysqli, "SET timestamp = $instant");
echo date('Y-m-d H:i:s', $instant), "\n";

if ($method === 'GET') {
    // The page's link carries the id as the action's own parameter.
    $_GET = [$action => $fields['id'], 'csrf_token' => 'recording-token'];
} else {
    $_POST = array_merge($fields, [$action => 1, 'csrf_token' => 'recording-token']);
}

define('FROM_POST_HANDLER', true);
chdir("$root/agent/post");  // the recurring ticket handler requires its model by a relative path
require "$root/agent/post/$file";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
