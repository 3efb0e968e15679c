/*
 * incident-bot: send a signed change event to the bot (async Business Rule, global scope).
 * Use it on incident, sysapproval_approver, sc_req_item, change_request and problem;
 * When = async, Insert and Update.
 *
 * Body: JSON with table, sys_id, number, state, operation, sys_mod_count, sys_updated_on,
 * sys_updated_by (all strings, ASCII-only so the signed bytes are the sent bytes).
 * Headers: X-SN-Timestamp (Unix seconds) and
 *          X-SN-Signature: sha256=<base64 HMAC-SHA256 of "<timestamp>.<body>">.
 * generateMac takes the key as base64 of the raw secret, so the HMAC key is the secret's bytes.
 * The URL and secret come from the system properties x_incident_bot.webhook_url and
 * x_incident_bot.webhook_secret.
 */
(function executeRule(current, previous /* null when async */) {
    var url = gs.getProperty('x_incident_bot.webhook_url', '');
    var secret = gs.getProperty('x_incident_bot.webhook_secret', '');
    if (!url || !secret) {
        gs.warn('incident-bot: set x_incident_bot.webhook_url and x_incident_bot.webhook_secret');
        return;
    }

    function value(name) {
        return current.isValidField(name) ? String(current.getValue(name) || '') : '';
    }

    function asciiJson(data) {
        return JSON.stringify(data).replace(/[\u007f-\uffff]/g, function (c) {
            return '\\u' + ('0000' + c.charCodeAt(0).toString(16)).slice(-4);
        });
    }

    var modCount = value('sys_mod_count');
    var operation = String(current.operation() || '') || (modCount === '0' ? 'insert' : 'update');
    var body = asciiJson({
        table: String(current.getTableName()),
        sys_id: String(current.getUniqueValue()),
        number: value('number'),
        state: value('state'),
        operation: operation,
        sys_mod_count: modCount,
        sys_updated_on: value('sys_updated_on'),
        sys_updated_by: value('sys_updated_by')
    });

    var timestamp = Math.floor(new GlideDateTime().getNumericValue() / 1000).toFixed(0);
    var key = GlideStringUtil.base64Encode(secret);
    var mac = new GlideCertificateEncryption().generateMac(key, 'HmacSHA256', timestamp + '.' + body);

    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(url);
    request.setHttpMethod('post');
    request.setRequestHeader('Content-Type', 'application/json');
    request.setRequestHeader('Accept', 'application/json');
    request.setRequestHeader('User-Agent', 'ServiceNow');
    request.setRequestHeader('X-SN-Timestamp', timestamp);
    request.setRequestHeader('X-SN-Signature', 'sha256=' + mac);
    request.setRequestHeader('X-SN-Event-Id', String(current.getUniqueValue()) + ':' + modCount);
    request.setRequestBody(body);
    request.setHttpTimeout(10000);
    request.executeAsync();
})(current, previous);
