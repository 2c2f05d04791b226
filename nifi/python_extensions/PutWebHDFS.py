"""NiFi processor: write each FlowFile to HDFS through WebHDFS, named by its `filename` attribute.

NiFi's PutHDFS is not available here (no NiFi Hadoop NAR is served by Maven Central, see
nifi/README.md). This Python processor uses the `hdfs` package (WebHDFS: the NameNode redirects
the write to the DataNode). It declares no dependencies for NiFi to pip-install: it imports from
the platform's virtualenv (NAR-INF/bundled-dependencies, made by flightdelay/nifi/config.py).

The file is written under a hidden temporary name and renamed into place, so readers never see a
half-written file. A batch that is delivered again (see ConsumeKafkaRecords) carries the same
records plus possibly newer ones, never fewer: an existing file that is at least as long as the
new content is therefore kept, so a late retry of an older delivery cannot shorten it.
"""

from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.properties import ExpressionLanguageScope, PropertyDescriptor, StandardValidators


class PutWebHDFS(FlowFileTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransform"]

    class ProcessorDetails:
        version = "1.0.0"
        description = (
            "Writes the FlowFile content to HDFS over WebHDFS as <Directory>/<filename>, atomically "
            "(temporary file + rename). An existing file at least as long as the content is kept."
        )
        tags = ["hdfs", "webhdfs", "put", "flightdelay"]

    WEBHDFS_URL = PropertyDescriptor(
        name="WebHDFS URL",
        description="The NameNode's HTTP address, e.g. http://127.0.0.1:9870",
        required=True,
        validators=[StandardValidators.URL_VALIDATOR],
    )
    USER = PropertyDescriptor(
        name="HDFS User",
        description="The user name sent to WebHDFS (simple authentication).",
        required=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
    )
    DIRECTORY = PropertyDescriptor(
        name="Directory",
        description="The HDFS directory to write into; created when missing.",
        required=True,
        validators=[StandardValidators.NON_EMPTY_EL_VALIDATOR],
        expression_language_scope=ExpressionLanguageScope.FLOWFILE_ATTRIBUTES,
    )

    def __init__(self, **kwargs):
        super().__init__()
        self.client = None

    def getPropertyDescriptors(self):
        return [self.WEBHDFS_URL, self.USER, self.DIRECTORY]

    def onScheduled(self, context):
        from hdfs import InsecureClient

        self.client = InsecureClient(
            context.getProperty(self.WEBHDFS_URL).getValue(),
            user=context.getProperty(self.USER).getValue(),
            timeout=30,
        )

    def onStopped(self, context):
        self.client = None

    def transform(self, context, flowfile):
        directory = context.getProperty(self.DIRECTORY).evaluateAttributeExpressions(flowfile).getValue()
        name = flowfile.getAttribute("filename")
        path = directory.rstrip("/") + "/" + name
        data = flowfile.getContentsAsBytes()
        try:
            existing = self.client.status(path, strict=False)
            if existing is not None and existing["length"] >= len(data):
                return FlowFileTransformResult("success", attributes={"hdfs.path": path, "hdfs.written": "false"})
            temporary = f"{directory.rstrip('/')}/.{name}.tmp"
            self.client.write(temporary, data=data, overwrite=True)
            if existing is not None:
                self.client.delete(path)
            self.client.rename(temporary, path)
        except Exception as exc:  # HDFS down, safe mode, ...: NiFi routes it to failure and retries
            self.logger.warn(f"cannot write {path}, will retry: {exc}")
            context.yield_resources()  # back off for the processor's yield duration
            return FlowFileTransformResult("failure", attributes={"hdfs.error": str(exc)[:500]})
        return FlowFileTransformResult("success", attributes={"hdfs.path": path, "hdfs.written": "true"})
