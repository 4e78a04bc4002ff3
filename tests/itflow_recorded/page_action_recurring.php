<?php
/*
 * Runs one action of ITFlow's own agent recurring ticket and recurring invoice pages with
 * php-cli, as a signed-in agent would trigger it: the agent's session variables and CSRF
 * token are set instead of by a login (page_session.php). Used by record_recurring.py; prints the instant
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

require __DIR__ . '/page_session.php';  // $root, $mysqli, functions.php, the agent's session
$action = $argv[1];
$fields = json_decode($argv[2] ?? '{}', true);

// What includes/load_company_settings.php sets for a company in USD (the agent's session is
// page_session.php's).
$session_company_currency = 'USD';
$settings = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT config_recurring_invoice_prefix FROM settings WHERE company_id = 1"));
$config_recurring_invoice_prefix = $settings['config_recurring_invoice_prefix'];
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

$instant = hold_recording_clock($mysqli);  // page_session.php: the clock held, the instant printed

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
