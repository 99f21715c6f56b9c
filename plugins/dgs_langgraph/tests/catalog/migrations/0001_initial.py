from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Artist",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                    ("name", models.CharField(max_length=120))],
        ),
        migrations.CreateModel(
            name="Album",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                    ("title", models.CharField(max_length=160)),
                    ("artist", models.ForeignKey(on_delete=models.deletion.CASCADE, to="catalog.artist"))],
        ),
        migrations.CreateModel(
            name="Track",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                    ("name", models.CharField(max_length=200)),
                    ("genre", models.CharField(blank=True, max_length=60)),
                    ("album", models.ForeignKey(on_delete=models.deletion.CASCADE, to="catalog.album"))],
        ),
    ]
