// CloudFront Function (viewer request, runtime cloudfront-js-2.0) of the REST behaviour of
// Slipway's front door.
//
// CloudFront must send API Gateway's own host name as Host, so the name the client used (the
// distribution's or the custom domain) is passed on as X-Forwarded-Host: the API builds the
// absolute URLs of its answers from it.

function handler(event) {
    var request = event.request;
    var host = request.headers.host;
    if (host && host.value) {
        request.headers['x-forwarded-host'] = { value: host.value };
    }
    return request;
}

if (typeof module !== 'undefined') {
    module.exports = { handler: handler };
}
