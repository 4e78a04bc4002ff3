<?php
/*
 * Runs one action of ITFlow's own agent invoice or quote page (agent/post/invoice.php,
 * agent/post/quote.php) with php-cli, as a signed-in agent would trigger it: the agent's
 * session variables and CSRF token are set here instead of by a login, and the company's
 * settings are read as includes/load_company_settings.php reads them. Used by
 * record_invoices.py; prints the instant the database clock was held at (every NOW() of the
 * action) before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_sales.php invoice|quote POST|GET FORM_JSON
 *
 * FORM_JSON holds the fields the page's form (POST) or link (GET) sends, the action's own name
 * among them (add_invoice, mark_invoice_sent, ...); the CSRF token is added here.
 */

$root = getenv('ITFLOW_ROOT');
$handler = $argv[1];
$method = $argv[2];
$form = json_decode($argv[3], true);

$mysqli = mysqli_connect('127.0.0.1', 'root', '', getenv('ITFLOW_DB'));
date_default_timezone_set('UTC');
mysqli_query($mysqli, "SET time_zone = '+00:00'");

require_once "$root/functions.php";

// What includes/load_user_session.php and load_company_settings.php set for the signed-in
// agent (user 1, an admin) of company 1.
$_SESSION = ['logged' => true, 'user_id' => 1, 'csrf_token' => 'recording-token'];
$session_user_id = 1;
$session_name = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT user_name FROM users WHERE user_id = 1"))['user_name'];
$session_is_admin = true;
$session_ip = '127.0.0.1';
$session_user_agent = 'page-recording';
$company = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT company_name, company_currency FROM companies WHERE company_id = 1"));
$session_company_name = $company['company_name'];
$session_company_currency = $company['company_currency'];
$currency_format = numfmt_create('en_US', NumberFormatter::CURRENCY);
$settings = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT * FROM settings WHERE company_id = 1"));
$config_invoice_prefix = $settings['config_invoice_prefix'];
$config_quote_prefix = $settings['config_quote_prefix'];
$config_base_url = 'itflow.example';
$config_stripe_enable = 0;
$_SERVER['REQUEST_METHOD'] = $method;
$_SERVER['HTTP_USER_AGENT'] = $session_user_agent;
$_SERVER['HTTP_REFERER'] = "$handler.php";

// Start on a fresh second and hold the database clock there, so that PHP's date() and
// MySQL's NOW() name the same instant for the whole action.
time_sleep_until(floor(microtime(true)) + 1.02);
$instant = time();
mysqli_query($mysqli, "SET timestamp = $instant");
echo date('Y-m-d H:i:s', $instant), "\n";

if ($method === 'POST') {
    $_POST = array_merge($form, ['csrf_token' => 'recording-token']);
} else {
    $_GET = array_merge($form, ['csrf_token' => 'recording-token']);
}

define('FROM_POST_HANDLER', true);
chdir("$root/agent/post");  // the handlers require their models by a relative path
require "$root/agent/post/$handler.php";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
