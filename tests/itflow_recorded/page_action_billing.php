<?php
/*
 * Runs one action of ITFlow's own agent payment page (agent/post/payment.php) with php-cli,
 * as a signed-in agent would trigger it: the agent's session variables and CSRF token are
 * set (page_session.php) instead of by a login. Used by record_payments.py; prints the instant the
 * database clock was held at (every NOW() of the action) before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_billing.php add INVOICE_ID AMOUNT DATE ACCOUNT METHOD REFERENCE
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_billing.php delete PAYMENT_ID
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_billing.php add_product|edit_product PRODUCT_ID FORM_JSON
 *
 * add and delete run agent/post/payment.php; add_product and edit_product agent/post/product.php
 * with FORM_JSON as the product form's fields.
 */

require __DIR__ . '/page_session.php';  // $root, $mysqli, functions.php, the agent's session
$action = $argv[1];
$id = intval($argv[2]);

// What includes/load_company_settings.php sets for a company in the en_US locale (the agent's
// session is page_session.php's).
$session_company_currency = 'USD';
$currency_format = numfmt_create('en_US', NumberFormatter::CURRENCY);
$config_base_url = 'itflow.example';
$config_invoice_from_name = 'Billing';
$config_invoice_from_email = 'billing@example.com';
$config_stripe_enable = 0;
$_SERVER['REQUEST_METHOD'] = $action === 'delete' ? 'GET' : 'POST';
$_SERVER['HTTP_REFERER'] = 'invoice.php';

$instant = hold_recording_clock($mysqli);  // page_session.php: the clock held, the instant printed

if ($action === 'add') {
    // The payment modal (agent/modals/payment/payment_add.php) posts the balance it works
    // out (the invoice amount less its payments, a PHP float as text) and the client's
    // currency as hidden fields.
    $row = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT invoice_amount, client_currency_code FROM invoices
        LEFT JOIN clients ON invoice_client_id = client_id WHERE invoice_id = $id"));
    $paid = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT SUM(payment_amount) AS amount_paid FROM payments
        WHERE payment_invoice_id = $id"));
    $balance = floatval($row['invoice_amount']) - floatval($paid['amount_paid']);
    $_POST = ['add_payment' => 1, 'csrf_token' => 'recording-token', 'invoice_id' => $id,
              'balance' => "$balance", 'currency_code' => $row['client_currency_code'], 'amount' => $argv[3],
              'date' => $argv[4], 'account' => $argv[5], 'payment_method' => $argv[6], 'reference' => $argv[7],
              'email_receipt' => 0];
} elseif ($action === 'delete') {
    $_GET = ['delete_payment' => $id, 'csrf_token' => 'recording-token'];
} elseif ($action === 'add_product' || $action === 'edit_product') {
    $_POST = array_merge(json_decode($argv[3], true), [$action => 1, 'csrf_token' => 'recording-token']);
    if ($action === 'edit_product') {
        $_POST['product_id'] = $id;
    }
} else {
    fwrite(STDERR, "unknown action $action\n");
    exit(2);
}

define('FROM_POST_HANDLER', true);
chdir("$root/agent/post");  // the product handler requires its model by a relative path
$handler = in_array($action, ['add', 'delete']) ? 'payment.php' : 'product.php';
require "$root/agent/post/$handler";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
