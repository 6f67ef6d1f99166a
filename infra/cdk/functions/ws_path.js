// CloudFront Function (viewer request, runtime cloudfront-js-2.0) of the WebSocket behaviours
// of Slipway's front door.
//
// Clients open the WebSocket of a job or of one execution at the path the documents give:
//   /tasks/<taskId>/jobs/<jobId>/ws/
//   /tasks/<taskId>/jobs/<jobId>/executions/<executionId>/ws/
// (also with the older singular /job/, and with or without the final slash). An API Gateway
// WebSocket API only accepts connections on its stage path, so the request is rewritten to
//   <STAGE_PATH>?taskId=<taskId>&jobId=<jobId>[&executionId=<executionId>]
// and the $connect handler reads the ids from the query string. Any other query parameter of
// the viewer is kept. A path of another form is answered 404 here, never sent to the API.
//
// The stack replaces the STAGE_PATH line below with its API Gateway stage when it synthesizes.

var STAGE_PATH = '/api';

// Path segments are kept as the viewer percent-encoded them: they become query values as they are.
var WS_PATH = /^\/tasks\/([^/]+)\/jobs?\/([^/]+)(?:\/executions\/([^/]+))?\/ws\/?$/;

function rewrite(uri, stagePath) {
    var match = WS_PATH.exec(uri);
    if (match === null) {
        return null;
    }
    var params = { taskId: match[1], jobId: match[2] };
    if (match[3] !== undefined) {
        params.executionId = match[3];
    }
    return { uri: stagePath, params: params };
}

function handler(event) {
    var request = event.request;
    var target = rewrite(request.uri, STAGE_PATH);
    if (target === null) {
        return {
            statusCode: 404,
            statusDescription: 'Not Found',
            headers: { 'content-type': { value: 'application/json' } },
            body: '{"error": "not a WebSocket path of a job or an execution"}',
        };
    }
    var querystring = request.querystring || {};
    var names = ['taskId', 'jobId', 'executionId'];
    for (var i = 0; i < names.length; i++) {
        delete querystring[names[i]];
    }
    for (var name in target.params) {
        querystring[name] = { value: target.params[name] };
    }
    request.uri = target.uri;
    request.querystring = querystring;
    return request;
}

// For the unit tests under node; CloudFront Functions have no `module`.
if (typeof module !== 'undefined') {
    module.exports = { handler: handler, rewrite: rewrite, STAGE_PATH: STAGE_PATH };
}
